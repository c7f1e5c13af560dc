r"""What the priors imply on the probability scale: prior draws of uptake, overall and by group.

Draws of every parameter from the prior of :func:`models.hierarchical.build_model`
(:func:`models.prior_draws.prior_groups`, seeded, the draws stored with every fit) are pushed
through the linear predictor of :mod:`analysis.marginal_effects`; for each draw the implied
uptake is the mean of :math:`\operatorname{logit}^{-1}\eta_i` over the respondents, overall
and among each group's respondents. With the defaults (intercept
:math:`\mathcal N(0, 1.5^2)`, coefficients :math:`\mathcal N(0, 1)` per contrast or SD, group
SD :math:`\operatorname{HalfNormal}(1)`), the prior puts uptake almost anywhere between a few
percent and most respondents, so the data, not the prior, decide where it lies. Bernoulli
models without random slopes (whose intercept has a flat density with a prior term that prior
sampling cannot draw from).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from analysis.marginal_effects import linear_predictor
from cmds_common.constants import DEFAULT_SEED, INTERVAL_PROB
from cmds_common.spec import ModelSpec
from models.design import Design
from models.prior_draws import prior_groups


def prior_draws(design: Design, spec: ModelSpec, draws: int, seed: int) -> dict[str, np.ndarray]:
    """Prior draws of the model's parameters, ``{name: (draws, ...)}``."""
    prior = prior_groups(design, spec, draws, seed)["prior"]
    stacked = prior.stack(sample=("chain", "draw"))
    return {k: v.transpose("sample", ...).to_numpy() for k, v in stacked.data_vars.items()}


def prior_uptake(
    design: Design,
    spec: ModelSpec,
    draws: int = 1000,
    seed: int = DEFAULT_SEED,
    interval_prob: float = INTERVAL_PROB,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Implied prior uptake, overall and by the first grouping factor's levels.

    Returns
    -------
    summary, overall
        ``summary``: ``group`` (``overall`` or a level), ``median``, ``low``, ``high`` and the
        prior probability that uptake lies below 10% and above 90%; ``overall``: the ``(draws,)``
        prior draws of overall uptake (for the histogram).
    """
    if spec.family != "bernoulli" or design.slope_columns:
        raise ValueError("prior uptake is drawn for bernoulli models without random slopes")
    parameters = prior_draws(design, spec, draws, seed)
    probability = special.expit(linear_predictor(parameters, design, design.X))
    tail = (1 - interval_prob) / 2
    targets = [("overall", probability.mean(axis=1))]
    if design.groups:
        first = design.groups[0]
        for j, level in enumerate(first.levels):
            members = first.idx == j
            if members.any():
                targets.append((level, probability[:, members].mean(axis=1)))
    rows = []
    for group, values in targets:
        low, median, high = np.quantile(values, [tail, 0.5, 1 - tail])
        rows.append(
            {
                "group": group,
                "median": median,
                "low": low,
                "high": high,
                "prob_below_10pct": float((values < 0.1).mean()),
                "prob_above_90pct": float((values > 0.9).mean()),
            }
        )
    return pd.DataFrame(rows), targets[0][1]
