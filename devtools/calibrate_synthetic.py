"""Tune the synthetic population so the default sample reproduces Tables 1-3 of Jing et al.

Run ``python -m devtools.calibrate_synthetic`` to rewrite ``synthetic_params.yaml``.

The random draws of the default sample are held fixed (common random numbers) while a
least-squares search moves the intercept, the 12 generating log-odds and the 10 factor loadings
so that, on that sample,

* the outcome rate is 41.6%;
* each category's share among respondents with a record matches Table 1-2 (shares among those
  without a record then follow, because overall shares are exact by construction);
* mean age and years in the inflow area among those with a record match;
* the weighted single-level Model 1 and Model 2 odds ratios match Table 3 (residuals in units
  of the published standard error).

The result is checked, not assumed, by ``tests/test_synthetic_calibration.py``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from importlib import resources
from pathlib import Path

import numpy as np
from scipy import optimize

from cmds_common import reference
from cmds_common.atomic import write_text
from cmds_common.constants import DEFAULT_SAMPLE_SIZE, DEFAULT_SEED
from data_prep import synthetic, variables
from models.design import Design
from models.frequentist import fit_weighted_logit

MODEL1_TERMS = synthetic.GENERATOR_TERMS[:7]


def _published_targets() -> dict[str, object]:
    tables = reference.table1_table2()
    yes_total = tables.loc[tables["variable"] == "all", "yes_n"].item()
    share_targets = []
    for name in synthetic.LATENT_PREDICTORS:
        if name in ("age_years", "years_in_inflow_area"):
            continue
        rows = tables.loc[tables["variable"] == name].set_index("level")
        for level in variables.categorical_levels(name)[1:]:
            share_targets.append((name, level, rows.loc[level, "yes_n"] / yes_total))
    continuous = reference.continuous_summaries().set_index(["variable", "group"])["mean"]
    table3 = reference.table3()
    return {
        "rate": tables.loc[tables["variable"] == "all", "yes_pct"].item() / 100,
        "shares": share_targets,
        "means_yes": {
            name: continuous[(name, "health_record_yes")]
            for name in ("age_years", "years_in_inflow_area")
        },
        "table3": table3,
    }


def _log_or_and_se(table3, model: int, terms: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    rows = table3.loc[table3["model"] == model].set_index("term").loc[list(terms)]
    log_or = np.log(rows["odds_ratio"].to_numpy())
    se = (np.log(rows["ci_high"]) - np.log(rows["ci_low"])).to_numpy() / (2 * 1.96)
    return log_or, se


def calibration_residuals(
    vector: np.ndarray,
    base: synthetic.GeneratorParams,
    streams: synthetic.RandomStreams,
    targets: dict[str, object],
    weights: np.ndarray,
) -> np.ndarray:
    """Scaled differences between the sample made with ``vector`` and the published figures."""
    params = base.with_vector(vector)
    predictors, outcome = synthetic.simulate(params, streams)
    with_record = outcome == 1
    residuals = [(outcome.mean() - targets["rate"]) / 0.005]
    for name, level, share in targets["shares"]:
        residuals.append(((predictors.loc[with_record, name] == level).mean() - share) / 0.01)
    for name, mean in targets["means_yes"].items():
        residuals.append((predictors.loc[with_record, name].mean() - mean) / 0.2)
    X = synthetic.generator_design(predictors)
    for model, n_terms in ((1, len(MODEL1_TERMS)), (2, len(synthetic.GENERATOR_TERMS))):
        design = Design(
            X=X[:, :n_terms],
            terms=list(synthetic.GENERATOR_TERMS[:n_terms]),
            term_scales=np.ones(n_terms),
            continuous_centres={},
            y=outcome,
            weights=weights,
            group_idx=np.zeros(len(outcome), dtype=np.int64),
            group_levels=[],
        )
        fitted = fit_weighted_logit(design)["log_odds"].to_numpy()
        target, se = _log_or_and_se(targets["table3"], model, synthetic.GENERATOR_TERMS[:n_terms])
        residuals.extend((fitted - target) / se)
    return np.asarray(residuals)


def calibrate(
    n: int = DEFAULT_SAMPLE_SIZE, seed: int = DEFAULT_SEED, max_nfev: int = 60
) -> tuple[synthetic.GeneratorParams, np.ndarray]:
    """Search the generator parameters; return them and the final scaled residuals."""
    targets = _published_targets()
    streams = synthetic.RandomStreams.draw(n, seed)
    start = synthetic.load_params()
    weights = synthetic._weights(start, streams)
    n_terms = len(synthetic.GENERATOR_TERMS)
    lower = np.r_[-np.inf * np.ones(1 + n_terms), -0.9 * np.ones(len(synthetic.LATENT_PREDICTORS))]
    upper = -lower
    solution = optimize.least_squares(
        calibration_residuals,
        start.to_vector(),
        args=(start, streams, targets, weights),
        bounds=(lower, upper),
        diff_step=0.1,
        max_nfev=max_nfev,
        verbose=1,
    )
    params = replace(start.with_vector(solution.x))
    return params, solution.fun


def main(argv: list[str] | None = None) -> int:
    """Command line: calibrate and rewrite ``synthetic_params.yaml``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-evaluations", type=int, default=60)
    args = parser.parse_args(argv)
    params, residuals = calibrate(max_nfev=args.max_evaluations)
    print("largest scaled residual:", np.abs(residuals).max().round(3))
    target = Path(str(resources.files("data_prep").joinpath("synthetic_params.yaml")))
    note = "Calibrated by `python -m devtools.calibrate_synthetic`; see data_prep/synthetic.py."
    write_text(target, synthetic.params_to_yaml(params, note))
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
