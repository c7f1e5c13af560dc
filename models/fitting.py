"""Fit one spec to a table in memory: the weighted logit and the posterior.

The one path behind ``python -m models`` (which adds fit keys and files) and the notebook API
(:mod:`cmds`).
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from cmds_common.analysis_table import data_hash
from cmds_common.spec import ModelSpec, spec_to_yaml
from cmds_common.survey_weights import weight_summary
from models.design import Design, build_design
from models.fit_file import preload_writer
from models.prior_draws import attach_prior, prior_groups
from models.sampling import SamplerSettings, resolve_sampler, sample_spec


def spec_settings(
    spec: ModelSpec, sampler: str = "auto", overrides: dict[str, Any] | None = None, **options: Any
) -> SamplerSettings:
    """Sampler settings for ``spec``: its own ``sampler:`` keys, then ``overrides``.

    Parameters
    ----------
    spec
        The model spec (its ``sampler`` mapping: chains, draws, tune, target_accept).
    sampler
        Requested engine, resolved for this spec (``auto`` -> ``compiled`` or ``nutpie``).
    overrides
        Settings the user gave explicitly (e.g. ``{"draws": 4000}``); ``None`` values are
        ignored.
    **options
        Other :class:`~models.sampling.SamplerSettings` fields (seed, progress, ...).
    """
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    return SamplerSettings(
        sampler=resolve_sampler(sampler, spec), **options, **{**spec.sampler, **given}
    )


def fit_model(
    table: pd.DataFrame,
    spec: ModelSpec,
    settings: SamplerSettings,
    attrs: dict[str, Any] | None = None,
) -> tuple[Design, pd.DataFrame, xr.DataTree]:
    """Build the design, fit the weighted logit, and sample the posterior of ``spec``.

    Parameters
    ----------
    table
        Typed analysis table.
    spec
        The model spec.
    settings
        Sampler settings; ``settings.sampler`` must be resolved (not ``"auto"``).
    attrs
        Extra provenance stored in the posterior's attributes (model name, label, formula, spec
        YAML, data hash and respondent count are always stored).

    Returns
    -------
    design, frequentist, idata
        The design, the frequentist table of the spec's family (weighted logit, WLS or ordered
        logit; one row per term, ``model`` column first) and the fit.

    Raises
    ------
    cmds_common.spec.SpecError
        When the spec does not fit the table (missing columns, bad reference levels).
    """
    design = build_design(table, spec)
    hash_of_data = data_hash(table)
    print(f"[{spec.name}] {spec.formula}")
    print(
        f"[{spec.name}] {len(design.y)} respondents, {len(design.terms)} terms, "
        + (", ".join(f"{len(g.levels)} {g.name} groups" for g in design.groups) or "no groups")
        + f"; data hash {hash_of_data}"
        + (f" (of {Path(attrs['data_path']).name})" if attrs and "data_path" in attrs else "")
    )
    weights = weight_summary(design.weights)
    if weights["weights_unreliable"]:
        fits = "weighted logit" + (" and weighted posterior" if spec.weighted_likelihood else "")
        print(f"warning: [{spec.name}] {weights['weights_message']} ({fits})", file=sys.stderr)
    print(
        f"[{spec.name}] sampling {settings.chains} chains x {settings.draws} draws "
        f"({settings.tune} warm-up) with {settings.sampler}, seed {settings.seed}"
    )
    provenance = {
        "model_name": spec.name,
        "model_label": spec.label,
        "formula": spec.formula,
        "spec_yaml": spec_to_yaml(spec),
        "data_hash": hash_of_data,
        "n_obs": len(design.y),
        **(attrs or {}),
    }
    # Work that needs nothing from the posterior runs on a second thread while the sampler's
    # threads draw (the compiled engine's threads do not hold Python's lock): the frequentist
    # fit (and the import of statsmodels), the prior draws made in NumPy and the imports of the
    # NetCDF writer. PyMC's forward sampling is left until sampling is done (PyTensor compiles
    # are not made from two threads at once).
    with ThreadPoolExecutor(max_workers=1) as second_thread:
        ahead = second_thread.submit(_while_sampling, design, spec, settings)
        idata = sample_spec(design, spec, settings, attrs=provenance)
        frequentist, prior = ahead.result()
    for note in frequentist.loc[frequentist["note"] != "", "note"]:
        print(f"warning: [{spec.name}] weighted logit: {note}", file=sys.stderr)
    attach_prior(idata, design, spec, settings.prior_draws, settings.seed, groups=prior)
    return design, frequentist, idata


def _while_sampling(
    design: Design, spec: ModelSpec, settings: SamplerSettings
) -> tuple[pd.DataFrame, dict[str, xr.Dataset] | None]:
    """Fit the frequentist model, import the writer and, when NumPy draws them, draw the prior.

    Returns the frequentist table (``model`` column first) and the prior groups (``None`` when
    PyMC must draw them, after sampling).
    """
    from models.frequentist import fit_frequentist  # imports statsmodels (about 0.3 s)

    frequentist = fit_frequentist(design)
    frequentist.insert(0, "model", spec.name)
    preload_writer()
    if settings.prior_draws and spec.random_intercepts_only:
        return frequentist, prior_groups(design, spec, settings.prior_draws, settings.seed)
    return frequentist, None
