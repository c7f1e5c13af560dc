r"""Average marginal effects (AMEs) on the probability scale, for every family of the project.

For posterior draw :math:`m` the linear predictor of respondent :math:`i` is
:math:`\eta^{(m)}_i = \alpha^{(m)} + x_i'\beta^{(m)} + \sum_g u^{(m)}_{g, j_g[i]} +
\sum_k v^{(m)}_{j[i]k} x_{ik}` (intercept for the families with one, each grouping factor's
effect at the respondent's own group, random slopes when the model has them), and the
prediction is :math:`\mu(\eta)`: :math:`\operatorname{logit}^{-1}\eta` (bernoulli, binomial:
probability per trial), :math:`\eta` (gaussian: index points), or each category's probability
:math:`P(Y = k) = \operatorname{logit}^{-1}(c_k - \eta) - \operatorname{logit}^{-1}(c_{k-1} -
\eta)` (cumulative logit).

* A level :math:`L` of a categorical predictor: the average predictive comparison
  :math:`\frac1n \sum_i [\mu(\eta_i \mid v_i = L) - \mu(\eta_i \mid v_i = \text{ref})]`,
  everyone's other predictors as observed (statsmodels' ``dummy=True``).
* A continuous predictor: the average derivative :math:`\frac1n \sum_i \partial\mu/\partial
  v_i`, by a central finite difference of step :math:`h = 10^{-4}\operatorname{sd}(v)`, per unit
  of :math:`v`.

Counterfactual designs are built by :func:`models.design.build_design` on the changed table, so
interactions follow the change; continuous columns stay centred at the observed means.
Each AME is summarised by the posterior median and equal-tailed 95% interval over draws.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special

from cmds_common.constants import INTERVAL_PROB
from cmds_common.spec import ModelSpec
from models.design import Design, build_design
from models.parameter_names import FAMILIES_WITH_INTERCEPT

#: Relative step of the finite difference for continuous predictors (times their SD).
STEP = 1e-4


def posterior_draws(
    posterior: xr.Dataset | xr.DataTree, max_draws: int | None = 400
) -> dict[str, np.ndarray]:
    """Stack chains and draws (thinned evenly to at most ``max_draws``); sample dim first."""
    if isinstance(posterior, xr.DataTree):
        posterior = posterior.to_dataset()
    stacked = posterior.stack(sample=("chain", "draw"))
    n = stacked.sizes["sample"]
    keep = np.unique(np.linspace(0, n - 1, min(n, max_draws or n)).round().astype(int))
    out = {}
    for name, values in stacked.data_vars.items():
        values = values.isel(sample=keep)
        out[name] = values.transpose("sample", ...).to_numpy()
    return out


def linear_predictor(draws: dict[str, np.ndarray], design: Design, X: np.ndarray) -> np.ndarray:
    """``(draws, obs)`` linear predictor at design matrix ``X`` (rows in ``design``'s groups)."""
    eta = draws["beta"] @ X.T
    if design.family in FAMILIES_WITH_INTERCEPT:
        eta = eta + draws["intercept"][:, None]
    for group in design.groups:
        if group.intercept:
            eta = eta + draws[f"{group.name}_effect"][:, group.idx]
        if group.slope_columns:
            slope = draws[f"{group.name}_slope"][:, group.idx, :]  # (draws, obs, slope terms)
            eta = eta + np.einsum("sok,ok->so", slope, X[:, group.slope_columns])
    return eta


def predicted_mean(
    draws: dict[str, np.ndarray], design: Design, eta: np.ndarray
) -> dict[str, np.ndarray]:
    """Predictions on the response scale: ``{label: (draws, obs)}`` (one per ordinal category)."""
    if design.family == "gaussian":
        return {"index points": eta}
    if design.family in ("bernoulli", "binomial"):
        return {"probability": special.expit(eta)}
    cut = draws["cutpoints"]  # (draws, K-1)
    below = special.expit(cut[:, None, :] - eta[:, :, None])
    padded = np.concatenate([np.zeros_like(eta)[..., None], below, np.ones_like(eta)[..., None]], 2)
    probs = np.diff(padded, axis=2)
    return {f"P({level})": probs[..., k] for k, level in enumerate(design.outcome_levels)}


def _centred_at(table: pd.DataFrame, spec: ModelSpec, observed: Design) -> np.ndarray:
    """Design of ``table`` whose continuous variables are centred at the observed centres."""
    both = pd.concat([table, table], ignore_index=True)
    n = len(table)
    for variable, centre in observed.continuous_centres.items():
        # second block mirrors the first around the observed centre: the pooled mean is it
        # (as floats: a 0/1 or count column is stored as integers)
        both[variable] = both[variable].astype(float)
        both.loc[n:, variable] = 2 * centre - table[variable].to_numpy(dtype=float)
    return build_design(both, spec).X[:n]


def average_marginal_effects(
    posterior: xr.Dataset,
    design: Design,
    spec: ModelSpec,
    data: pd.DataFrame,
    interval_prob: float = INTERVAL_PROB,
    max_draws: int | None = 400,
) -> pd.DataFrame:
    """AME of every predictor of ``spec`` on the response scale (see the module docstring).

    Parameters
    ----------
    posterior
        The fit's posterior (``beta``, ``intercept`` or ``cutpoints``, group effects, slopes).
    design, spec, data
        The design the model was fitted to, its spec and the analysis table.
    max_draws
        Posterior draws used (evenly thinned); ``None`` for all.

    Returns
    -------
    pandas.DataFrame
        One row per predictor contrast x outcome scale: ``variable``, ``contrast`` (``"L vs
        ref"``, ``"1 vs 0"`` for a 0/1 number, or ``"per unit (derivative)"``), ``outcome``
        (``probability``, ``index points`` or ``P(category)``), ``estimate`` (posterior
        median), ``ci_low``, ``ci_high``.
    """
    draws = posterior_draws(posterior, max_draws)
    tail = (1 - interval_prob) / 2
    rows = []
    for variable, contrast, low_table, high_table, per in _contrasts(data, spec):
        low = predicted_mean(
            draws, design, linear_predictor(draws, design, _centred_at(low_table, spec, design))
        )
        high = predicted_mean(
            draws, design, linear_predictor(draws, design, _centred_at(high_table, spec, design))
        )
        for outcome in low:
            ame = (high[outcome] - low[outcome]).mean(axis=1) / per
            q_low, median, q_high = np.quantile(ame, [tail, 0.5, 1 - tail])
            rows.append((variable, contrast, outcome, median, q_low, q_high))
    return pd.DataFrame(
        rows, columns=["variable", "contrast", "outcome", "estimate", "ci_low", "ci_high"]
    )


def _zero_one(values: pd.Series) -> bool:
    """Whether a numeric column holds exactly the two values 0 and 1 (a binary variable)."""
    return (
        not isinstance(values.dtype, pd.CategoricalDtype)
        and pd.api.types.is_numeric_dtype(values)
        and set(pd.unique(values.dropna())) == {0, 1}
    )


def _contrasts(data: pd.DataFrame, spec: ModelSpec):
    """``(variable, label, low table, high table, divisor)`` for each predictor contrast."""
    for variable in spec.predictors:
        values = data[variable]
        if isinstance(values.dtype, pd.CategoricalDtype):
            levels = list(values.cat.categories)
            reference = spec.reference_levels.get(variable, levels[0])
            base = data.copy()
            base[variable] = pd.Categorical([reference] * len(data), categories=levels)
            for level in levels:
                if level == reference:
                    continue
                other = data.copy()
                other[variable] = pd.Categorical([level] * len(data), categories=levels)
                yield variable, f"{level} vs {reference}", base, other, 1.0
        elif _zero_one(values):
            # a 0/1 number (a declared binary variable): everyone 1 against everyone 0, as
            # statsmodels' margins (dummy=True) and R's marginaleffects treat it
            low, high = data.copy(), data.copy()
            low[variable], high[variable] = 0, 1
            yield variable, "1 vs 0", low, high, 1.0
        else:
            h = STEP * float(values.std()) or STEP
            low, high = data.copy(), data.copy()
            low[variable] = values - h / 2
            high[variable] = values + h / 2
            yield variable, "per unit (derivative)", low, high, h


def frequentist_logit_ames(
    design: Design, data: pd.DataFrame, spec: ModelSpec, interval_prob: float = INTERVAL_PROB
) -> pd.DataFrame:
    """AMEs of the single-level, unweighted logit of the spec's fixed part, by statsmodels.

    ``statsmodels`` ``Logit(...).get_margeff(at="overall", dummy=True)``: discrete change 0 -> 1
    of each indicator (others as observed) and the average derivative of continuous terms, with
    delta-method standard errors. Only terms with the same estimand as
    :func:`average_marginal_effects` are returned: continuous predictors and categorical
    predictors with two levels (for more levels statsmodels changes one indicator while a
    respondent may hold another level), none that enters an interaction (statsmodels changes
    the main-effect column alone).

    Returns
    -------
    pandas.DataFrame
        ``variable``, ``contrast``, ``freq_estimate``, ``freq_ci_low``, ``freq_ci_high``
        (probability scale) and ``freq_note``: "not estimable (separation)" for a separated
        term (its estimate left empty), else empty.
    """
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    from models.frequentist import NOT_ESTIMABLE, separated_terms

    if design.family != "bernoulli":
        raise ValueError("frequentist AMEs are available for bernoulli models")
    X = design.X.copy()
    for variable, centre in design.continuous_centres.items():
        if _zero_one(data[variable]) and variable in design.terms:
            # back on 0/1, so that margins takes the discrete change (only the constant moves)
            X[:, design.terms.index(variable)] += centre
    with warnings.catch_warnings():  # non-convergence under separation is reported below
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        result = sm.Logit(design.y, sm.add_constant(X)).fit(disp=False)
    margins = result.get_margeff(at="overall", dummy=True)
    low, high = margins.conf_int(alpha=1 - interval_prob).T
    by_term = dict(zip(design.terms, zip(margins.margeff, low, high, strict=True), strict=True))
    # a separated term has no maximum-likelihood estimate: no AME is shown for it
    separated = separated_terms(design, np.asarray(result.params)[1:])
    rows = []
    for variable, contrast, *_ in _contrasts(data, spec):
        values = data[variable]
        # every term the variable enters, interactions included: margins changes one column,
        # so a variable in an interaction has no comparable AME there
        terms = [
            t
            for t in design.terms
            if any(p == variable or p.startswith(f"{variable}_") for p in t.split(":"))
        ]
        categorical = isinstance(values.dtype, pd.CategoricalDtype)
        if len(terms) != 1 or (categorical and len(values.cat.categories) != 2):
            continue
        if terms[0] in separated:
            rows.append((variable, contrast, np.nan, np.nan, np.nan, NOT_ESTIMABLE))
            continue
        rows.append((variable, contrast, *by_term[terms[0]], ""))
    columns = ["variable", "contrast", "freq_estimate", "freq_ci_low", "freq_ci_high", "freq_note"]
    return pd.DataFrame(rows, columns=columns)


def profile_predictions(
    posterior: xr.Dataset,
    design: Design,
    spec: ModelSpec,
    data: pd.DataFrame,
    profiles: dict[str, dict[str, str]],
    interval_prob: float = INTERVAL_PROB,
    max_draws: int | None = 400,
) -> pd.DataFrame:
    r"""Predicted outcome of named profiles, overall and in each group of the first factor.

    Each profile sets some categorical predictors for everyone (e.g. all five integration
    markers absent, or all present), the other predictors staying as observed. ``overall`` is
    the mean prediction over the respondents in their own groups; for group :math:`j` every
    respondent is given group :math:`j`'s effect (standardised to the whole sample's mix, as
    in :func:`analysis.province_variation.standardised_rates`).

    Parameters
    ----------
    profiles
        ``{name: {variable: level}}``.

    Returns
    -------
    pandas.DataFrame
        ``profile``, ``group`` (``overall`` or a level of the first grouping factor),
        ``outcome``, ``estimate`` (posterior median), ``ci_low``, ``ci_high``.
    """
    draws = posterior_draws(posterior, max_draws)
    tail = (1 - interval_prob) / 2
    first = design.groups[0] if design.groups else None
    rows = []
    for name, setting in profiles.items():
        table = data.copy()
        for variable, level in setting.items():
            table[variable] = pd.Categorical(
                [level] * len(table), categories=data[variable].cat.categories
            )
        X = _centred_at(table, spec, design)
        eta = linear_predictor(draws, design, X)
        targets = [("overall", eta)]
        if first is not None and first.intercept:
            own = draws[f"{first.name}_effect"][:, first.idx]
            for j, level in enumerate(first.levels):
                effect = draws[f"{first.name}_effect"][:, [j]]
                targets.append((level, eta - own + effect))
        for group, linear in targets:
            for outcome, values in predicted_mean(draws, design, linear).items():
                q_low, median, q_high = np.quantile(values.mean(axis=1), [tail, 0.5, 1 - tail])
                rows.append((name, group, outcome, median, q_low, q_high))
    columns = ["profile", "group", "outcome", "estimate", "ci_low", "ci_high"]
    return pd.DataFrame(rows, columns=columns)
