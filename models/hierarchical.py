r"""Hierarchical (multilevel) logistic regression with a random intercept by inflow province.

The model, for respondent :math:`i` in province :math:`j[i]`:

.. math::

    y_i &\sim \operatorname{Bernoulli}(p_i), \qquad
    \operatorname{logit}(p_i) = \alpha + \sum_k \beta_k x_{ik} + u_{j[i]} \\
    u_j &= \sigma_u z_j, \qquad z_j \sim \mathcal N(0, 1)
        \quad\text{(non-centred; } u_j \sim \mathcal N(0, \sigma_u^2)\text{)} \\
    \alpha &\sim \mathcal N(0, s_\alpha^2), \qquad
    \beta_k \sim \mathcal N\!\left(0, (s_\beta / \operatorname{sd}(x_k))^2\right), \qquad
    \sigma_u \sim \operatorname{HalfNormal}(s_\sigma)

with the defaults :math:`s_\alpha = 1.5`, :math:`s_\beta = 1`, :math:`s_\sigma = 1`.
Indicator predictors have :math:`\operatorname{sd}(x_k)` taken as 1, so a priori an odds ratio
lies in (0.14, 7.1) with 95% probability; continuous predictors (centred at their mean) get the
same prior per standard deviation. :math:`\alpha` is the log-odds of a record for a respondent at
every reference level and mean age/stay in a typical province. When a spec has no group term the
:math:`u_j` are dropped (a pooled model).

Names follow Bambi: ``intercept``, ``beta`` (dim ``term``), ``province_sigma``,
``province_offset`` and the Deterministic ``province_effect`` (dim ``province``), index array
``province_idx``; the likelihood node is named after the outcome (dim ``obs``).
"""

from __future__ import annotations

import numpy as np
import pymc as pm

from models.design import Design
from models.spec import ModelSpec


def model_coords(design: Design, spec: ModelSpec) -> dict[str, list]:
    """Coordinates of the model: ``obs``, ``term`` and (with a group term) the group levels."""
    coords: dict[str, list] = {
        "obs": list(range(len(design.y))),
        "term": list(design.terms),
    }
    if spec.group:
        coords[spec.group] = list(design.group_levels)
    return coords


def build_model(design: Design, spec: ModelSpec) -> pm.Model:
    """Build the PyMC model of ``spec`` on a design.

    Parameters
    ----------
    design
        Output of :func:`models.design.build_design`.
    spec
        The model spec (terms, group and prior scales).

    Returns
    -------
    pymc.Model
        Model with labelled dims ``obs``, ``term`` and ``spec.group``.
    """
    priors = spec.priors
    with pm.Model(coords=model_coords(design, spec)) as model:
        X = pm.Data("X", design.X, dims=("obs", "term"))
        intercept = pm.Normal("intercept", mu=0.0, sigma=priors.intercept_sd)
        beta = pm.Normal(
            "beta", mu=0.0, sigma=priors.coefficient_sd / design.term_scales, dims="term"
        )
        linear = intercept + pm.math.dot(X, beta)
        if spec.group:
            group = spec.group
            group_idx = pm.Data(f"{group}_idx", design.group_idx, dims="obs")
            sigma = pm.HalfNormal(f"{group}_sigma", sigma=priors.group_sd_scale)
            offset = pm.Normal(f"{group}_offset", mu=0.0, sigma=1.0, dims=group)
            effect = pm.Deterministic(f"{group}_effect", sigma * offset, dims=group)
            linear = linear + effect[group_idx]
        pm.Bernoulli(spec.outcome, logit_p=linear, observed=design.y, dims="obs")
    return model


def free_parameter_names(spec: ModelSpec) -> list[str]:
    """Posterior variables checked for convergence and summarised (no per-row nodes)."""
    names = ["intercept", "beta"]
    if spec.group:
        names += [f"{spec.group}_sigma", f"{spec.group}_effect"]
    return names


def initial_point_is_finite(model: pm.Model) -> bool:
    """Check that the log-probability and its gradient are finite at the initial point."""
    point = model.initial_point()
    logp = model.compile_logp()(point)
    grad = model.compile_dlogp()(point)
    return bool(np.isfinite(logp) and np.all(np.isfinite(grad)))
