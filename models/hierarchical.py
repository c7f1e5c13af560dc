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

Variants, chosen by the spec:

* **pooled** (no group term): the :math:`u_j` are dropped.
* **group-level predictors** :math:`w_j` (z-scored across provinces):
  :math:`u_j = w_j'\gamma + \sigma_u z_j`, :math:`\gamma \sim \mathcal N(0, 1)`.
* **correlated random slopes** ``(1 + a + b | province)``: the province deviations
  :math:`(u_j, v_{j1}, \dots, v_{jK})` of the intercept and the slopes of the indicator columns
  of ``a``, ``b`` are multivariate normal with SDs
  :math:`\tau_k \sim \operatorname{HalfNormal}(s_\sigma)` and correlation
  :math:`\Omega \sim \operatorname{LKJ}(\eta)` (default :math:`\eta = 2`),
  non-centred through the Cholesky factor: :math:`(u_j, v_j) = L z_j`,
  :math:`z_j \sim \mathcal N(0, I)`; :math:`\operatorname{logit}(p_i)` gains
  :math:`\sum_k v_{j[i]k} x_{ik}`.

  Geometry for slope SDs near zero. When slopes barely vary between provinces the posterior of
  :math:`\tau_k` piles up near zero; the non-centred form keeps that free of the funnel a
  centred :math:`v_j \sim \mathcal N(0, \Sigma)` would have there, and two more changes make it
  mix (the slopes model failed R-hat or tail ESS of the slope SDs on some seeds and CPUs):

  1. The intercept is sampled at the predictors' means, as the compiled engine does: the free
     variable is :math:`\alpha_c = \alpha + \bar x'\beta` with a flat density, and the prior
     :math:`\mathcal N(0, s_\alpha^2)` is put on :math:`\alpha = \alpha_c - \bar x'\beta`
     (linear, unit Jacobian, so the posterior is unchanged). With uncentred 0/1 columns
     :math:`\alpha` and the coefficient of a common indicator are strongly correlated a
     posteriori, which a diagonal mass matrix cannot undo (seen as R-hat 1.010 of a coefficient).
  2. The slope SDs get their own, tighter half-normal scale, :math:`\tau_k \sim
     \operatorname{HalfNormal}(s_\tau)` for :math:`k \ge 1` (spec ``priors.slope_sd_scale``;
     ``model2_slopes`` uses :math:`s_\tau = 0.5`, the intercept SD keeps :math:`s_\sigma`). A
     priori a province's odds ratio then lies within a factor :math:`e^{1.96 \cdot 0.5 \cdot
     1.96} \approx 6.8` of the average one for 95% of provinces at the prior's 95th
     percentile of :math:`\tau_k`, still wide for slopes; the scale 1 let the sampler wander
     into large :math:`\tau_k` with tiny :math:`z_{jk}`, the ridge where it mixed slowly.
* **independent slopes without a group intercept** ``(0 + a + b | g)`` (as Bambi reads such a
  term): each slope column :math:`k` of ``a``, ``b`` gets deviations
  :math:`v_{gk} = \tau_k z_{gk}`, :math:`z_{gk} \sim \mathcal N(0, 1)`,
  :math:`\tau_k \sim \operatorname{HalfNormal}(s_\tau)` (``priors.slope_sd_scale``, else
  :math:`s_\sigma`), no correlation matrix; :math:`\operatorname{logit}(p_i)` gains
  :math:`\sum_k v_{g[i]k} x_{ik}`, so group :math:`g`'s slope of column :math:`k` is
  :math:`\beta_k + v_{gk}`, partially pooled towards :math:`\beta_k`. Named ``g_slope_sigma``
  (dim ``slope_term``), ``g_slope_offset`` and the Deterministic ``g_slope`` (dims ``g``,
  ``slope_term``). This expresses effects that vary by a subgroup (e.g. sex x age group x
  education cells) while the group's main effects stay fixed terms.

Indicator predictors have :math:`\operatorname{sd}(x_k)` taken as 1, so a priori an odds ratio
lies in (0.14, 7.1) with 95% probability; continuous predictors (centred at their mean) get the
same prior per standard deviation. :math:`\alpha` is the log-odds of a record for a respondent at
every reference level and mean age/stay in a typical province. When a spec has no group term the
:math:`u_j` are dropped (a pooled model).

Survey weights (``weighted_likelihood: true`` in the spec): the Bernoulli log-likelihood of
respondent :math:`i` is multiplied by its sampling weight :math:`w_i`, scaled so that the weights
sum to the sample size (a pseudo-likelihood, :math:`\sum_i w_i \log p(y_i \mid \theta)`). Point
estimates then target the weighted population like the weighted logit; the posterior's width is
not a design-based variance (strata, clustering and the extra variance weights bring are not
modelled), so read it as a sensitivity analysis beside the unweighted fit, not as a replacement.
The stored pointwise log-likelihood stays unweighted.

Several grouping factors ``(1 | province) + (1 | city)`` or nested ``(1 | province/city)``: each
factor :math:`g` adds its own :math:`u^{(g)}_{j} = \sigma_g z^{(g)}_j` with
:math:`\sigma_g \sim \operatorname{HalfNormal}(s_\sigma)`, named ``g_sigma``, ``g_offset``,
``g_effect`` (dim ``g``, the factor's levels) with index data ``g_idx``; a nested factor is named
``province_city`` with levels ``"province:city"``. Slopes and group predictors belong to one
factor. Other outcome families (binomial, gaussian, ordinal) are in :mod:`models.families`.

Names follow Bambi: ``intercept``, ``beta`` (dim ``term``), ``province_sigma``,
``province_offset`` and the Deterministic ``province_effect`` (dim ``province``), index array
``province_idx``; the likelihood node is named after the outcome (dim ``obs``). Slopes add
``province_slope`` (dims ``province``, ``slope_term``), ``province_slope_sigma`` and
``province_corr`` (dims ``effect``, ``effect_bis``); group predictors add ``province_gamma``
(dim ``group_predictor``).
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from cmds_common.spec import ModelSpec
from models.design import Design, GroupDesign
from models.families import cut_labels, likelihood, outcome_scale
from models.parameter_names import FAMILIES_WITH_INTERCEPT


def model_coords(design: Design, spec: ModelSpec) -> dict[str, list]:
    """Coordinates: ``obs``, ``term``, each grouping factor's levels, slopes, ``cut``."""
    coords: dict[str, list] = {
        "obs": list(range(len(design.y))),
        "term": list(design.terms),
    }
    for group in design.groups:
        coords[group.name] = list(group.levels)
    slope_group = _slope_group(design)
    if slope_group is not None:
        slope_terms = [design.terms[k] for k in slope_group.slope_columns]
        coords["slope_term"] = slope_terms
        if slope_group.intercept:
            coords["effect"] = ["intercept", *slope_terms]
            coords["effect_bis"] = coords["effect"]
    if design.group_predictor_names:
        coords["group_predictor"] = list(design.group_predictor_names)
    if design.family == "cumulative_logit":
        coords["cut"] = cut_labels(design)
    return coords


def _slope_group(design: Design) -> GroupDesign | None:
    return next((g for g in design.groups if g.slope_columns), None)


def build_model(design: Design, spec: ModelSpec, direct_intercept: bool = False) -> pm.Model:
    """Build the PyMC model of ``spec`` on a design.

    Parameters
    ----------
    design
        Output of :func:`models.design.build_design`.
    spec
        The model spec (terms, grouping factors, family and prior scales).
    direct_intercept
        Give the intercept its normal prior directly even in random-slopes models, which
        otherwise sample it at the predictors' means (:func:`_intercept_at_means`: a flat
        variable plus a prior term, the same joint prior, which prior sampling cannot draw).
        For prior draws only; the posterior is the same either way.

    Returns
    -------
    pymc.Model
        Model with labelled dims ``obs``, ``term`` and one per grouping factor.
    """
    priors = spec.priors
    centre, scale = outcome_scale(design)
    with pm.Model(coords=model_coords(design, spec)) as model:
        X = pm.Data("X", design.X, dims=("obs", "term"))
        linear = 0.0
        with_intercept = design.family in FAMILIES_WITH_INTERCEPT
        intercept_sd = priors.intercept_sd * scale
        at_means = with_intercept and bool(design.slope_columns) and not direct_intercept
        if with_intercept and not at_means:
            linear = pm.Normal("intercept", mu=centre, sigma=intercept_sd)
        beta = pm.Normal(
            "beta", mu=0.0, sigma=priors.coefficient_sd * scale / design.term_scales, dims="term"
        )
        if at_means:
            linear = _intercept_at_means(design, centre, intercept_sd, beta)
        linear = linear + pm.math.dot(X, beta)
        for k, group in enumerate(design.groups):
            group_idx = pm.Data(f"{group.name}_idx", group.idx, dims="obs")
            with_predictors = k == 0 and bool(design.group_predictor_names)
            linear = linear + _group_terms(design, spec, group, X, group_idx, with_predictors)
        outcome = likelihood(design, spec, linear)
        if spec.weighted_likelihood:
            # the likelihood counts each respondent once; this adds the remaining (w_i - 1)
            extra = pm.Data("survey_weight_minus_one", design.weights - 1.0, dims="obs")
            pm.Potential("survey_weights", (extra * pm.logp(outcome, design.y)).sum())
    return model


def _group_terms(
    design: Design,
    spec: ModelSpec,
    group: GroupDesign,
    X: pt.TensorVariable,
    group_idx,
    with_predictors: bool,
) -> pt.TensorVariable:
    """Deviations of the intercept (and slopes) by one grouping factor, per row."""
    name, priors = group.name, spec.priors
    sd_scale = priors.group_sd_scale * outcome_scale(design)[1]
    mean = 0.0
    if with_predictors:
        group_X = pm.Data(f"{name}_X", design.group_X, dims=(name, "group_predictor"))
        gamma = pm.Normal(f"{name}_gamma", mu=0.0, sigma=1.0, dims="group_predictor")
        mean = pm.math.dot(group_X, gamma)
    if group.slope_columns and not group.intercept:
        return _independent_slopes(design, spec, group, X, group_idx)
    if not group.slope_columns:
        sigma = pm.HalfNormal(f"{name}_sigma", sigma=sd_scale)
        offset = pm.Normal(f"{name}_offset", mu=0.0, sigma=1.0, dims=name)
        effect = pm.Deterministic(f"{name}_effect", mean + sigma * offset, dims=name)
        return effect[group_idx]
    n_effects = 1 + len(group.slope_columns)
    chol, corr, stds = pm.LKJCholeskyCov(
        f"{name}_chol",
        n=n_effects,
        eta=priors.lkj_eta,
        sd_dist=pm.HalfNormal.dist(
            sigma=np.array(
                [sd_scale] + [priors.slope_scale * outcome_scale(design)[1]] * (n_effects - 1)
            )
        ),
        compute_corr=True,
        store_in_trace=False,
    )
    offset = pm.Normal(f"{name}_offset", mu=0.0, sigma=1.0, dims=(name, "effect"))
    deviations = pm.math.dot(offset, chol.T)
    pm.Deterministic(f"{name}_sigma", stds[0])
    pm.Deterministic(f"{name}_slope_sigma", stds[1:], dims="slope_term")
    pm.Deterministic(f"{name}_corr", corr, dims=("effect", "effect_bis"))
    effect = pm.Deterministic(f"{name}_effect", mean + deviations[:, 0], dims=name)
    slope = pm.Deterministic(f"{name}_slope", deviations[:, 1:], dims=(name, "slope_term"))
    slope_X = X[:, group.slope_columns]
    return effect[group_idx] + (slope_X * slope[group_idx]).sum(axis=1)


def _independent_slopes(
    design: Design, spec: ModelSpec, group: GroupDesign, X: pt.TensorVariable, group_idx
) -> pt.TensorVariable:
    """Uncorrelated, non-centred slope deviations of a ``(0 + a | group)`` term, per row."""
    name = group.name
    tau = pm.HalfNormal(
        f"{name}_slope_sigma",
        sigma=spec.priors.slope_scale * outcome_scale(design)[1],
        dims="slope_term",
    )
    offset = pm.Normal(f"{name}_slope_offset", mu=0.0, sigma=1.0, dims=(name, "slope_term"))
    slope = pm.Deterministic(f"{name}_slope", offset * tau, dims=(name, "slope_term"))
    return (X[:, group.slope_columns] * slope[group_idx]).sum(axis=1)


def _intercept_at_means(
    design: Design, intercept_mean: float, intercept_sd: float, beta
) -> pt.TensorVariable:
    r"""Return the reference intercept, sampled as the linear predictor at the predictors' means.

    The free variable is :math:`\alpha_c = \alpha + \bar x'\beta`, with a flat density, and
    the prior :math:`\mathcal N(m_\alpha, s_\alpha^2)` is added on :math:`\alpha = \alpha_c -
    \bar x'\beta` (a linear map with unit Jacobian): the same posterior, without the strong
    posterior correlation between :math:`\alpha` and the coefficients of common indicators.
    """
    means = design.X.mean(axis=0)
    at_means = pm.Flat("intercept_at_means")
    intercept = pm.Deterministic("intercept", at_means - pm.math.dot(means, beta))
    prior = pm.Normal.dist(intercept_mean, intercept_sd)
    pm.Potential("intercept_prior", pm.logp(prior, intercept))
    return intercept


def initial_point_is_finite(model: pm.Model) -> bool:
    """Check that the log-probability and its gradient are finite at the initial point."""
    point = model.initial_point()
    logp = model.compile_logp()(point)
    grad = model.compile_dlogp()(point)
    return bool(np.isfinite(logp) and np.all(np.isfinite(grad)))
