r"""Draw further batches of chains while a fit falls short on effective sample size only.

A fit whose R-hat, divergences and E-BFMI pass but whose bulk or tail ESS of some checked
parameter is below its bound (:data:`~cmds_common.constants.ESS_BULK_MIN`,
:data:`~cmds_common.constants.ESS_TAIL_MIN`) is not wrong, only short. Rather than asking the
user to refit with more draws, :func:`sample_in_batches` then draws another batch, up to
:data:`~cmds_common.constants.MAX_EXTRA_BATCHES` of them, until every ESS reaches its bound.

How a batch extends a fit. nutpie's public ``nutpie.sample`` cannot resume a chain: it takes no
starting state per chain, no mass matrix and no step size (``init_mean`` is one point shared by
all chains), so a batch cannot continue the chains of the last one, and gluing its draws onto
them along ``draw`` would make chains with a jump in the middle. A further batch is therefore a
fresh set of ``settings.chains`` chains, with the same warm-up and number of draws and a seed
derived from the fit's seed and the batch number (:func:`batch_seed`), appended along
``chain``: four chains become eight, then twelve. Every chain has warmed up on its own, so the
combined chains are a sample exactly as valid as starting with that many chains; rank-normalised
split R-hat and bulk/tail ESS are computed across all of them, and R-hat across more
independently started chains is, if anything, a stricter check of mixing. Every group with a
``chain`` dimension (posterior, sample statistics, pointwise log-likelihood and posterior
predictive draws, each computed per batch for that batch's draws) is concatenated, so the
pointwise groups cover the combined draws.

Only ESS shortfalls add batches. When R-hat, divergences or E-BFMI fail (before or after a
batch), the loop stops and the fit goes to the convergence gate as it is, which fails loudly.

An interrupted extra batch (Ctrl-C: the engines return fewer draws, which
``_refuse_partial_trace`` turns into :class:`KeyboardInterrupt`) is dropped, and the batches
already complete are kept and returned with ``batches_interrupted = 1``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from models.diagnostics import convergence_checks, failure_messages

if TYPE_CHECKING:
    from models.sampling import SamplerSettings

_ESS_CHECKS = frozenset({"ess_bulk", "ess_tail"})


def batch_seed(seed: int, batch: int) -> int:
    """Seed of batch ``batch`` (0: the fit's own seed; later ones derived, below 2**31)."""
    if batch == 0:
        return seed
    state = np.random.SeedSequence([seed, batch]).generate_state(1, dtype=np.uint32)
    return int(state[0] & 0x7FFFFFFF)


def only_ess_short(checks: pd.DataFrame) -> bool:
    """Whether some check failed and every failed check is a bulk or tail ESS."""
    failed = set(checks.loc[~checks["passed"].astype(bool), "check"])
    return bool(failed) and failed <= _ESS_CHECKS


def concat_batches(batches: list[xr.DataTree]) -> xr.DataTree:
    """Join fits along ``chain`` (chains renumbered 0, 1, ...); groups without one from the first.

    Only groups present in every batch are kept. ``sampling_seconds`` in the posterior
    attributes becomes the total over the batches; the other attributes are the first batch's.
    """
    if len(batches) == 1:
        return batches[0]
    first = batches[0]
    groups: dict[str, xr.Dataset] = {}
    for name in first.children:
        datasets = [b[name].to_dataset() for b in batches if name in b.children]
        if len(datasets) < len(batches):
            continue
        if "chain" not in datasets[0].dims:
            groups[name] = datasets[0]
            continue
        renumbered, offset = [], 0
        for dataset in datasets:
            n_chains = dataset.sizes["chain"]
            renumbered.append(dataset.assign_coords(chain=np.arange(offset, offset + n_chains)))
            offset += n_chains
        groups[name] = xr.concat(
            renumbered,
            dim="chain",
            data_vars="minimal",
            coords="minimal",
            compat="override",
            join="outer",
            combine_attrs="override",
        )
    seconds = [float(b.posterior.attrs.get("sampling_seconds", 0.0)) for b in batches]
    groups["posterior"].attrs["sampling_seconds"] = round(sum(seconds), 2)
    combined = xr.DataTree(first.to_dataset(), name=first.name)
    combined.attrs = dict(first.attrs)
    for name, dataset in groups.items():
        combined[name] = xr.DataTree(dataset)
    return combined


def sample_in_batches(
    draw_batch: Callable[[SamplerSettings], xr.DataTree],
    settings: SamplerSettings,
    var_names: list[str],
    log: Callable[[str], None] = print,
    label: str = "",
) -> tuple[xr.DataTree, dict[str, Any]]:
    """Draw one batch, then further ones while only the ESS of ``var_names`` falls short.

    Parameters
    ----------
    draw_batch
        Samples one batch for the settings it is given (the fit's, with the seed replaced by
        :func:`batch_seed` for later batches) and returns a complete ``InferenceData``.
    settings
        The fit's settings; ``settings.max_extra_batches`` is the ceiling (0: never add).
    var_names
        Parameters whose R-hat and ESS are checked (as by the convergence gate).
    log
        Receives one line per added batch and at the end.
    label
        Prefix of the logged lines (e.g. ``"[model2_slopes] "``).

    Returns
    -------
    idata, info
        The combined fit, and ``extra_batches``, ``total_chains``, ``total_draws`` (chains x
        draws over all batches), ``batch_seeds`` (comma-separated) and ``batches_interrupted``.
    """
    batches = [draw_batch(settings)]
    combined = batches[0]
    seeds = [settings.seed]
    interrupted = False
    while len(batches) <= settings.max_extra_batches:
        checks = convergence_checks(combined, var_names)
        if not only_ess_short(checks):
            break
        number = len(batches)
        seed = batch_seed(settings.seed, number)
        log(
            f"{label}only effective sample sizes fall short ({'; '.join(failure_messages(checks))}"
            f"); drawing extra batch {number} of at most {settings.max_extra_batches}: "
            f"{settings.chains} more chains x {settings.draws} draws, seed {seed}"
        )
        try:
            batch = draw_batch(dataclasses.replace(settings, seed=seed))
        except KeyboardInterrupt:
            log(f"{label}extra batch {number} interrupted; keeping the {number} complete batch(es)")
            interrupted = True
            break
        batches.append(batch)
        seeds.append(seed)
        combined = concat_batches(batches)
    posterior = combined.posterior
    info = {
        "extra_batches": len(batches) - 1,
        "total_chains": int(posterior.sizes["chain"]),
        "total_draws": int(posterior.sizes["chain"] * posterior.sizes["draw"]),
        "batch_seeds": ",".join(str(s) for s in seeds),
        "batches_interrupted": int(interrupted),
    }
    if len(batches) > 1:
        log(
            f"{label}{info['extra_batches']} extra batch(es): {info['total_chains']} chains, "
            f"{info['total_draws']} draws in all"
        )
    return combined, info
