r"""Outcome families of the PyMC model: likelihood, link and family-specific priors.

With linear predictor :math:`\eta_i` (built in :mod:`models.hierarchical`):

* ``bernoulli`` (default): :math:`y_i \sim \operatorname{Bernoulli}(\operatorname{logit}^{-1}
  \eta_i)`.
* ``binomial``: :math:`y_i \sim \operatorname{Binomial}(n_i, \operatorname{logit}^{-1}\eta_i)`,
  :math:`n_i` from the spec's ``trials:`` column (data ``<outcome>_trials``).
* ``gaussian``: :math:`y_i \sim \mathcal N(\eta_i, \sigma^2)` (identity link),
  :math:`\sigma \sim \operatorname{HalfNormal}(s_y)` with :math:`s_y` the outcome's SD; the
  intercept, coefficient and group-SD priors of :mod:`models.hierarchical` are multiplied by
  :math:`s_y` and the intercept is centred at :math:`\bar y`, so the defaults mean the same on
  any scale.
* ``cumulative_logit`` (ordinal, categories :math:`0, \dots, K-1`):
  :math:`P(y_i \le k) = \operatorname{logit}^{-1}(c_k - \eta_i)`, :math:`k = 0, \dots, K-2`,
  with no intercept in :math:`\eta_i` (the cutpoints take its place); cutpoints
  :math:`c_0 < \dots < c_{K-2}` with :math:`c_k \sim \mathcal N(0, s_\alpha^2)` restricted to
  increasing vectors (PyMC's ``ordered`` transform), dim ``cut`` labelled ``"low|high"``.
  A positive :math:`\beta_k` moves respondents towards higher categories.

The likelihood node is named after the outcome, with dim ``obs``.
"""

from __future__ import annotations

import itertools

import numpy as np
import pymc as pm

from cmds_common.spec import ModelSpec
from models.design import Design


def outcome_scale(design: Design) -> tuple[float, float]:
    """Centre and scale of the priors: ``(mean, SD)`` of a gaussian outcome, else ``(0, 1)``."""
    if design.family == "gaussian":
        return float(design.y.mean()), float(design.y.std())
    return 0.0, 1.0


def cut_labels(design: Design) -> list[str]:
    """Labels of the cutpoints of an ordinal outcome: ``"poor|fair"``, ``"fair|good"``, ..."""
    levels = design.outcome_levels
    return [f"{low}|{high}" for low, high in itertools.pairwise(levels)]


def likelihood(design: Design, spec: ModelSpec, linear) -> pm.Distribution:
    """Add the family's likelihood (and its own parameters) to the model in context."""
    name, family = spec.outcome, design.family
    if family == "bernoulli":
        return pm.Bernoulli(name, logit_p=linear, observed=design.y, dims="obs")
    if family == "binomial":
        trials = pm.Data(f"{name}_trials", design.trials, dims="obs")
        return pm.Binomial(name, n=trials, logit_p=linear, observed=design.y, dims="obs")
    if family == "gaussian":
        sigma = pm.HalfNormal("sigma", sigma=outcome_scale(design)[1])
        return pm.Normal(name, mu=linear, sigma=sigma, observed=design.y, dims="obs")
    if family == "cumulative_logit":
        n_cuts = len(design.outcome_levels) - 1
        cutpoints = pm.Normal(
            "cutpoints",
            mu=0.0,
            sigma=spec.priors.intercept_sd,
            transform=pm.distributions.transforms.ordered,
            initval=np.linspace(-1.0, 1.0, n_cuts),
            dims="cut",
        )
        return pm.OrderedLogistic(
            name, eta=linear, cutpoints=cutpoints, compute_p=False, observed=design.y, dims="obs"
        )
    raise ValueError(f"unknown family {family!r}")
