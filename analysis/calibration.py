"""Is the inference calibrated? Simulation-based calibration on the study's own design.

Each replicate draws every parameter from the prior of the model (intercept, coefficients,
province SD, province effects), simulates the outcome for the real design (the 3,158
respondents' predictors and provinces), fits the model with the project's default engine and
records, for every fixed effect and the province SD:

* whether the central 50% and 90% posterior intervals contain the true value, and
* the rank of the true value among ``rank_draws`` posterior draws thinned evenly from all
  chains (Talts et al. 2018, "Validating Bayesian inference algorithms with simulation-based
  calibration").

When the fitting is right, each interval covers the truth in its nominal share of replicates
(up to binomial error) and each parameter's ranks are uniform on ``0..rank_draws``. Replicates
with sampler warnings are kept (dropping them would bias the check) and flagged.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special, stats

from cmds_common.atomic import write_with
from cmds_common.constants import DEFAULT_CHAINS, DEFAULT_DRAWS, DEFAULT_SEED, DEFAULT_TUNE
from cmds_common.spec import ModelSpec, spec_to_yaml
from models.design import Design
from models.fit_cache import fit_key
from models.log_density_sampler import sample_compiled
from models.sampling import SamplerSettings
from models.task_runner import SERIAL, Task, TaskOutcome, run_tasks

INTERVALS = (0.5, 0.9)


@dataclass(frozen=True)
class CalibrationSettings:
    """How many replicates, and how each is sampled."""

    replicates: int = 100
    chains: int = DEFAULT_CHAINS
    draws: int = DEFAULT_DRAWS
    tune: int = DEFAULT_TUNE
    rank_draws: int = 99
    seed: int = DEFAULT_SEED


def draw_truth(design: Design, spec: ModelSpec, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw every parameter from the model's prior (see :mod:`models.hierarchical`)."""
    priors = spec.priors
    sigma = abs(rng.normal(0.0, priors.group_sd_scale))
    return {
        "intercept": np.array(rng.normal(0.0, priors.intercept_sd)),
        "beta": rng.normal(0.0, priors.coefficient_sd / design.term_scales),
        "province_sigma": np.array(sigma),
        "province_effect": rng.normal(0.0, sigma, len(design.group_levels)),
    }


def simulate_outcome(
    design: Design, truth: dict[str, np.ndarray], rng: np.random.Generator
) -> np.ndarray:
    """Bernoulli outcomes for the design's respondents under the true parameters."""
    eta = truth["intercept"] + design.X @ truth["beta"]
    eta = eta + truth["province_effect"][design.group_idx]
    return (rng.random(len(eta)) < special.expit(eta)).astype(np.int64)


def parameter_names(design: Design) -> list[str]:
    """Name the checked quantities: intercept, each coefficient (by term), province SD."""
    return ["intercept", *(f"beta[{term}]" for term in design.terms), "province_sigma"]


def _flatten(values: dict[str, np.ndarray]) -> np.ndarray:
    """Stack the checked quantities in :func:`parameter_names` order (last axis)."""
    return np.concatenate(
        [
            np.asarray(values["intercept"])[..., None],
            np.asarray(values["beta"]),
            np.asarray(values["province_sigma"])[..., None],
        ],
        axis=-1,
    )


def replicate_summary(
    draws: np.ndarray, truth: np.ndarray, rank_draws: int
) -> dict[str, np.ndarray]:
    """Ranks and interval coverage for one replicate.

    Parameters
    ----------
    draws
        ``(n_draws, n_quantities)`` posterior draws, chains concatenated.
    truth
        ``(n_quantities,)`` true values.
    rank_draws
        Number of evenly thinned draws the rank is taken among (rank in ``0..rank_draws``).
    """
    thinned = draws[np.linspace(0, len(draws) - 1, rank_draws).round().astype(int)]
    summary = {"rank": (thinned < truth).sum(axis=0)}
    for level in INTERVALS:
        low, high = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2], axis=0)
        summary[f"in_{level:.0%}"] = (low <= truth) & (truth <= high)
    return summary


def replicate_seed(settings: CalibrationSettings, replicate: int) -> np.random.SeedSequence:
    """Give the seed of one replicate: child ``replicate`` of the study's seed.

    Equal to ``SeedSequence(settings.seed).spawn(n)[replicate]`` for any ``n``, so a replicate's
    draws do not depend on how many replicates the study has or where it runs.
    """
    return np.random.SeedSequence(settings.seed, spawn_key=(replicate,))


def calibration_replicate(
    design: Design, spec: ModelSpec, settings: CalibrationSettings, replicate: int
) -> pd.DataFrame:
    """Simulate, fit and score one replicate (one task of :func:`run_calibration`).

    Returns
    -------
    pandas.DataFrame
        One row per quantity: ``replicate``, ``parameter``, ``true_value``,
        ``posterior_mean``, ``rank``, ``in_50%``, ``in_90%``, and the replicate's
        ``max_r_hat``, ``min_ess_bulk`` and ``divergences``.
    """
    import arviz as az

    rng = np.random.default_rng(replicate_seed(settings, replicate))
    truth = draw_truth(design, spec, rng)
    simulated = dataclasses.replace(design, y=simulate_outcome(design, truth, rng))
    sampling = SamplerSettings(
        chains=settings.chains,
        draws=settings.draws,
        tune=settings.tune,
        seed=int(rng.integers(2**31)),
        progress=False,
    )
    idata, _ = sample_compiled(simulated, spec, sampling, pointwise=False)
    posterior = idata.posterior.to_dataset()
    draws = _flatten(
        {
            k: posterior[k].stack(sample=("chain", "draw")).transpose("sample", ...).values
            for k in ("intercept", "beta", "province_sigma")
        }
    )
    true_values = _flatten(truth)
    summary = replicate_summary(draws, true_values, settings.rank_draws)
    checked = ["intercept", "beta", "province_sigma"]
    diagnostics = {
        "max_r_hat": float(az.rhat(posterior, var_names=checked).to_array().max()),
        "min_ess_bulk": float(az.ess(posterior, var_names=checked).to_array().min()),
        "divergences": int(idata.sample_stats["diverging"].sum()),
    }
    rows = [
        {
            "replicate": replicate,
            "parameter": name,
            "true_value": true_values[k],
            "posterior_mean": draws[:, k].mean(),
            **{key: value[k] for key, value in summary.items()},
            **diagnostics,
        }
        for k, name in enumerate(parameter_names(design))
    ]
    return pd.DataFrame(rows)


def replicate_key(
    data_key: str, spec: ModelSpec, settings: CalibrationSettings, replicate: int
) -> str:
    """Fit key of one replicate (:func:`models.fit_cache.fit_key`): data, spec, settings, seed.

    ``data_key`` identifies the design (the analysis table's data hash).
    """
    sampling = SamplerSettings(
        sampler="compiled",
        chains=settings.chains,
        draws=settings.draws,
        tune=settings.tune,
        seed=settings.seed,
    )
    study = f"{data_key}|calibration replicate {replicate}|rank_draws {settings.rank_draws}"
    return fit_key(study, spec_to_yaml(spec), sampling)


def run_calibration(
    design: Design,
    spec: ModelSpec,
    settings: CalibrationSettings,
    report: Callable[[int, dict], None] | None = None,
    scheduler: str = SERIAL,
    workers: int | None = None,
    cache_dir: Path | None = None,
    data_key: str = "",
) -> pd.DataFrame:
    """Simulate, fit and score ``settings.replicates`` data sets, each as a task.

    Parameters
    ----------
    design, spec, settings
        The design simulated from, its spec and the study's settings.
    report
        Called with each replicate's number and diagnostics as it finishes.
    scheduler, workers
        Where the replicates run (:func:`models.task_runner.run_tasks`): ``"serial"`` (here),
        ``"local"`` (a Dask LocalCluster) or a scheduler address. Results are the same.
    cache_dir
        Folder of finished replicates (``replicate_<k>.parquet``, with their fit key): replicates
        saved there with the same key are read instead of fitted again, new ones are written as
        they finish.
    data_key
        Identifies the design in the fit keys (the data hash); used with ``cache_dir``.

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`calibration_replicate` of every replicate, in replicate order.

    Raises
    ------
    RuntimeError
        When a replicate failed (each failure is named; the finished ones are kept in
        ``cache_dir``).
    """
    if not spec.random_intercepts_only or not spec.group:
        raise ValueError("calibration covers random-intercept specs ((1 | province) only)")
    keys = {r: replicate_key(data_key, spec, settings, r) for r in range(settings.replicates)}
    done: dict[int, pd.DataFrame] = {}
    if cache_dir is not None:
        for replicate, key in keys.items():
            path = cache_dir / f"replicate_{replicate:04d}.parquet"
            if path.exists():
                saved = pd.read_parquet(path)
                if len(saved) and (saved["fit_key"] == key).all():
                    done[replicate] = saved.drop(columns="fit_key")
        if done:
            print(f"[validate] {len(done)} of {settings.replicates} replicates already fitted")

    def finished(outcome: TaskOutcome) -> None:
        if outcome.failed:
            return
        replicate = int(outcome.name.rsplit(" ", 1)[1])
        rows = outcome.value
        if cache_dir is not None:
            write_with(
                cache_dir / f"replicate_{replicate:04d}.parquet",
                lambda p: rows.assign(fit_key=keys[replicate]).to_parquet(p, index=False),
            )
        if report is not None:
            first = rows.iloc[0]
            report(replicate, {k: first[k] for k in ("max_r_hat", "min_ess_bulk", "divergences")})

    tasks = [
        Task(f"replicate {r}", calibration_replicate, (design, spec, settings, r))
        for r in range(settings.replicates)
        if r not in done
    ]
    outcomes = run_tasks(
        tasks,
        scheduler,
        workers,
        description="calibration fits",
        on_done=finished,
        log_dir=None if cache_dir is None else cache_dir.parent / "logs",
    )
    failures = [f"{name}: {o.error_line()}" for name, o in outcomes.items() if o.failed]
    if failures:
        raise RuntimeError(
            f"{len(failures)} replicate(s) failed (the others are kept):\n  "
            + "\n  ".join(failures)
        )
    done.update({int(n.rsplit(" ", 1)[1]): o.value for n, o in outcomes.items()})
    return pd.concat([done[r] for r in sorted(done)], ignore_index=True)


def wilson_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion."""
    z = stats.norm.ppf((1 + level) / 2)
    share = successes / trials
    centre = (share + z**2 / (2 * trials)) / (1 + z**2 / trials)
    half = z * np.sqrt(share * (1 - share) / trials + z**2 / (4 * trials**2)) / (1 + z**2 / trials)
    return centre - half, centre + half


def coverage_table(results: pd.DataFrame, rank_draws: int, n_bins: int = 20) -> pd.DataFrame:
    """Per quantity: coverage of each interval with its binomial check, and rank uniformity.

    A coverage passes when the nominal level lies in the 99% Wilson interval of the observed
    share (a well-calibrated fit fails this by chance about 1 time in 100 per cell). Rank
    uniformity is a chi-square test over ``n_bins`` equal-width bins of ``0..rank_draws``.
    """
    rows = []
    edges = np.linspace(-0.5, rank_draws + 0.5, n_bins + 1)
    for parameter, group in results.groupby("parameter", sort=False):
        n = len(group)
        row: dict[str, object] = {"parameter": parameter, "replicates": n}
        for level in INTERVALS:
            column = f"in_{level:.0%}"
            covered = int(group[column].sum())
            low, high = wilson_interval(covered, n, 0.99)
            row[f"coverage_{level:.0%}"] = covered / n
            row[f"coverage_{level:.0%}_99ci"] = f"{low:.2f}-{high:.2f}"
            row[f"coverage_{level:.0%}_ok"] = bool(low <= level <= high)
        counts, _ = np.histogram(group["rank"], bins=edges)
        row["rank_chi2_p"] = float(stats.chisquare(counts).pvalue)
        rows.append(row)
    return pd.DataFrame(rows)
