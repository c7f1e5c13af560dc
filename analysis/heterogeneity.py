r"""Subgroup effects of a partially pooled model, and the probability that they differ.

For a model with a ``(0 + x_1 + ... + x_D | g)`` term (:mod:`models.hierarchical`), subgroup
:math:`s`'s effect of column :math:`d` in draw :math:`m` is :math:`\theta^{(m)}_{sd} =
\beta^{(m)}_d + v^{(m)}_{sd}` (``beta`` + ``g_slope``). A named comparison, such as women vs
men, sets the subgroups whose members have ``variable == level`` (set :math:`A`) against those
with ``variable == versus`` (set :math:`B`), like with like: each combination :math:`c` of the
other defining factors (same age group and education, say) contributes the difference between
its two subgroups, weighted by the share :math:`w_c` of the sample with that combination,

.. math::

    \Delta^{(m)}_d = \sum_c w_c \left(\theta^{(m)}_{A c, d} - \theta^{(m)}_{B c, d}\right),

reported as the posterior median, equal-tailed 95% interval and :math:`P(\Delta_d > 0 \mid y)`.
The same weights applied to the true subgroup effects, to the stratified regressions (variance
:math:`\sum w_s^2 \operatorname{se}_s^2`, the subgroups being independent samples) and to the
interaction model (:math:`c'\beta`, variance :math:`c'Vc`) give the comparison's other columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from cmds_common.constants import INTERVAL_PROB
from cmds_common.spec import ModelSpec
from models.subgroup_frequentist import InteractionFit


def slope_group(spec: ModelSpec) -> str:
    """Name of the spec's grouping factor with random slopes (the subgroup factor)."""
    names = [g.name for g in spec.groups if g.slopes]
    if not names:
        raise ValueError(f"model {spec.name!r} has no effects varying by a group")
    return names[0]


def subgroup_effect_draws(posterior: xr.Dataset, group: str) -> xr.DataArray:
    """Draws of each subgroup's effect, ``beta + <group>_slope``.

    Parameters
    ----------
    posterior
        Posterior with ``beta`` (dim ``term``) and ``<group>_slope`` (dims ``group``,
        ``slope_term``), chains and draws.

    Returns
    -------
    xarray.DataArray
        Dims ``(group, slope_term, sample)``: log cumulative odds ratio per unit.
    """
    slope = posterior[f"{group}_slope"]
    beta = posterior["beta"].sel(term=slope["slope_term"].values).rename(term="slope_term")
    effect = (slope + beta).stack(sample=("chain", "draw"))
    return effect.transpose(group, "slope_term", "sample")


def summarise_draws(
    draws: xr.DataArray, group: str, interval_prob: float = INTERVAL_PROB
) -> pd.DataFrame:
    """Median and equal-tailed interval per subgroup x term: ``subgroup, term, estimate, ...``."""
    tail = (1 - interval_prob) / 2
    values = draws.to_numpy()
    rows = []
    for i, subgroup in enumerate(draws[group].values):
        for j, term in enumerate(draws["slope_term"].values):
            low, mid, high = np.quantile(values[i, j], [tail, 0.5, 1 - tail])
            rows.append((str(subgroup), str(term), mid, low, high, values[i, j].std()))
    return pd.DataFrame(rows, columns=["subgroup", "term", "estimate", "ci_low", "ci_high", "sd"])


def contrast_weights(
    table: pd.DataFrame, by: str, factors: list[str], variable: str, level: str, versus: str
) -> pd.Series:
    """Weights of a standardised comparison of ``variable == level`` against ``== versus``.

    The subgroups of ``by`` are the cells of ``factors``. Each combination :math:`c` of the
    other factors gets the share :math:`w_c` of the whole sample that has it; the subgroup with
    ``level`` and :math:`c` is weighted :math:`+w_c`, the one with ``versus`` and :math:`c`
    :math:`-w_c`. The comparison is thus between like subgroups, over the sample's mix of the
    other factors (women vs men of the same age group and education, say), not confounded by
    how the other factors differ between the two sides.

    Returns
    -------
    pandas.Series
        Weight of each subgroup label (positive side sums to 1, negative to -1).
    """
    others = [f for f in factors if f != variable]
    cells = table[[by, *factors]].astype(str).drop_duplicates().set_index(by)
    shares = table[others].astype(str).value_counts(normalize=True)
    weights = pd.Series(0.0, index=cells.index)
    for subgroup, row in cells.iterrows():
        sign = {level: 1.0, versus: -1.0}.get(row[variable], 0.0)
        if sign:
            key = tuple(row[others]) if len(others) > 1 else row[others[0]]
            weights[subgroup] = sign * shares.get(key, 0.0)
    if not weights.gt(0).any() or not weights.lt(0).any():
        raise ValueError(f"no subgroup has {variable} == {level!r} or == {versus!r}")
    return weights


def difference_table(
    draws: xr.DataArray,
    table: pd.DataFrame,
    by: str,
    factors: list[str],
    contrasts: list[dict],
    stratified: pd.DataFrame | None = None,
    interaction: InteractionFit | None = None,
    truth: pd.DataFrame | None = None,
    interval_prob: float = INTERVAL_PROB,
) -> pd.DataFrame:
    r"""Named subgroup comparisons of every varying term (see the module docstring).

    Parameters
    ----------
    draws
        :func:`subgroup_effect_draws` (dims ``by``, ``slope_term``, ``sample``).
    table
        The analysis table (subgroup sizes and membership).
    by
        Subgroup column.
    factors
        Columns whose combinations are the subgroups (e.g. sex, age group, education group).
    contrasts
        Each ``{"name", "variable", "level", "versus"}``, e.g. women vs men:
        ``{"name": "women vs men", "variable": "sex", "level": "female", "versus": "male"}``.
    stratified, interaction, truth
        Optional: the stratified regressions (``subgroup, term, estimate, se``), the
        interaction fit, and the true effects (``subgroup, term, slope``).

    Returns
    -------
    pandas.DataFrame
        One row per comparison x term: ``comparison``, ``term``, ``estimate`` (posterior median
        of the difference, log cumulative odds ratio), ``ci_low``, ``ci_high``, ``sd``,
        ``prob_greater`` (:math:`P(\Delta > 0)`), then ``stratified_*``, ``interaction_*`` and
        ``truth`` when given.
    """
    tail = (1 - interval_prob) / 2
    z = stats.norm.ppf(0.5 + interval_prob / 2)
    subgroups = [str(s) for s in draws[by].values]
    rows = []
    for contrast in contrasts:
        weight = contrast_weights(
            table,
            by,
            factors,
            contrast["variable"],
            str(contrast["level"]),
            str(contrast["versus"]),
        ).reindex(subgroups, fill_value=0.0)
        for j, term in enumerate(draws["slope_term"].values):
            delta = weight.to_numpy() @ draws.to_numpy()[:, j, :]
            low, mid, high = np.quantile(delta, [tail, 0.5, 1 - tail])
            row = {
                "comparison": contrast["name"],
                "term": str(term),
                "estimate": mid,
                "ci_low": low,
                "ci_high": high,
                "sd": float(delta.std()),
                "prob_greater": float((delta > 0).mean()),
            }
            if stratified is not None:
                part = stratified[stratified["term"] == term].set_index("subgroup")
                w = weight.reindex(part.index).fillna(0.0)
                estimate = float(w @ part["estimate"])
                se = float(np.sqrt((w**2) @ (part["se"] ** 2)))
                row |= _wald_columns("stratified", estimate, se, z)
            if interaction is not None:
                estimate, se = interaction.effect(
                    {(s, str(term)): w for s, w in weight.items() if w != 0}
                )
                row |= _wald_columns("interaction", estimate, se, z)
            if truth is not None:
                part = truth[truth["term"] == term].set_index("subgroup")["slope"]
                row["truth"] = float(weight.reindex(part.index).fillna(0.0) @ part)
            rows.append(row)
    return pd.DataFrame(rows)


def _wald_columns(prefix: str, estimate: float, se: float, z: float) -> dict[str, float]:
    return {
        f"{prefix}_estimate": estimate,
        f"{prefix}_ci_low": estimate - z * se,
        f"{prefix}_ci_high": estimate + z * se,
        f"{prefix}_p_value": float(2 * stats.norm.sf(abs(estimate / se))),
    }


def effects_long(
    pooled: pd.DataFrame,
    stratified: pd.DataFrame,
    interaction: pd.DataFrame,
    truth: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Subgroup effects of the three methods stacked: ``method, subgroup, term, estimate, ...``."""
    columns = ["subgroup", "term", "estimate", "ci_low", "ci_high"]
    frames = [
        pooled[columns].assign(method="pooled Bayesian (partial pooling)"),
        stratified[columns].assign(method="separate regressions per subgroup"),
        interaction[columns].assign(method="single-level interaction model"),
    ]
    long = pd.concat(frames, ignore_index=True)
    if truth is not None:
        long = long.merge(truth[["subgroup", "term", "slope"]], on=["subgroup", "term"], how="left")
        long = long.rename(columns={"slope": "truth"})
    return long[["method", *columns, *(["truth"] if truth is not None else [])]]
