"""The calculations of a treatment study with a factor-analysis index (the ma2023 study).

Reads what ``studies/<name>/study.yaml`` declares (treatment, covariates, index items,
matching settings) and returns DataFrames; :mod:`analysis.study_cli` writes them. The pieces:
the index (:mod:`analysis.factor_index`), descriptive statistics and ANOVA
(:mod:`analysis.group_comparison`), OLS full and stepwise (:mod:`analysis.index_regression`),
propensity-score matching (:mod:`analysis.matching`) and the Bayesian ATT by g-computation
(:mod:`analysis.g_computation`); :func:`comparison_table` puts them beside the published
figures.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from analysis.factor_index import (
    INDEX_SCALES,
    FactorIndex,
    build_factor_index,
    index_on_scale,
    oriented_items,
)
from analysis.group_comparison import descriptive_by_group, one_way_anova
from analysis.index_regression import full_ols, stepwise_ols
from analysis.matching import (
    MatchResult,
    balance_table,
    covariate_matrix,
    match_att,
    propensity_scores,
)
from cmds_common.reference import figure_value
from cmds_common.study import Study

Z95 = stats.norm.ppf(0.975)


@dataclass(frozen=True)
class FrequentistResults:
    """Every frequentist result of the study."""

    descriptive: pd.DataFrame
    anova: pd.DataFrame
    ols_full: pd.DataFrame
    ols_stepwise: pd.DataFrame
    matching: MatchResult
    balance: pd.DataFrame
    difference: pd.DataFrame


def treatment_indicator(study: Study, table: pd.DataFrame) -> np.ndarray:
    """1 where the row holds the treated level, else 0."""
    treatment = study.raw["treatment"]
    return (table[treatment["variable"]] == treatment["treated"]).to_numpy(int)


def effect_term(study: Study) -> str:
    """Term name of the treatment indicator (``variable_level``)."""
    treatment = study.raw["treatment"]
    return f"{treatment['variable']}_{treatment['treated']}"


def build_index(study: Study, table: pd.DataFrame) -> tuple[pd.DataFrame, FactorIndex]:
    """Add the factor-analysis index to the table (rows with every item; others dropped).

    Returns
    -------
    table, factor_index : pandas.DataFrame, FactorIndex
    """
    config = study.raw["index"]
    items = oriented_items(table, study.index_items, config.get("reverse"))
    complete = items.notna().all(axis=1)
    result = build_factor_index(items[complete], config.get("dimensions"))
    indexed = table.loc[complete].copy()
    indexed[config["name"]] = result.index
    return indexed.reset_index(drop=True), result


def frequentist_results(study: Study, table: pd.DataFrame) -> FrequentistResults:
    """Descriptive table, ANOVA, OLS (full and stepwise) and propensity-score matching."""
    treatment = study.raw["treatment"]
    outcome = study.raw["index"]["name"]
    covariates = list(study.raw["covariates"])
    y = table[outcome]
    treated = treatment_indicator(study, table)
    group = table[treatment["variable"]]
    anova = one_way_anova(y, group)
    X = covariate_matrix(table, covariates)
    term = effect_term(study)
    design = pd.concat([pd.DataFrame({term: treated}, index=table.index), X], axis=1)
    matching = study.raw.get("matching") or {}
    scores = propensity_scores(X, treated)
    match = match_att(
        y.to_numpy(float),
        treated,
        scores,
        neighbours=int(matching.get("neighbours", 4)),
        caliper=float(matching.get("caliper", 0.02)),
    )
    t_test = stats.ttest_ind(y[treated == 1], y[treated == 0])
    low, high = t_test.confidence_interval(0.95)
    difference = pd.DataFrame(
        {
            "estimate": [float(y[treated == 1].mean() - y[treated == 0].mean())],
            "low": [float(low)],
            "high": [float(high)],
        }
    )
    return FrequentistResults(
        descriptive=descriptive_by_group(table, treatment["variable"], outcome, covariates),
        anova=pd.DataFrame([anova]),
        ols_full=full_ols(y, design),
        ols_stepwise=stepwise_ols(y, design),
        matching=match,
        balance=balance_table(X, treated, match),
        difference=difference,
    )


def _relation(value: float) -> str:
    """Return "< 0.001", "> 0.999" or "= 0.012": a p value or probability as a paper prints it."""
    if value < 0.001:
        return "< 0.001"
    return "> 0.999" if value > 0.999 else f"= {value:.3f}"


def _row(label: str, source: str, estimate: float, low: float, high: float, note: str) -> dict:
    return {
        "estimate_label": label,
        "source": source,
        "estimate": estimate,
        "low": low,
        "high": high,
        "note": note,
    }


def comparison_table(
    study: Study,
    published: pd.DataFrame,
    freq: FrequentistResults,
    bayes: dict[str, pd.DataFrame],
) -> pd.DataFrame:
    """Put published, frequentist and Bayesian estimates of the treatment effect side by side.

    Parameters
    ----------
    study : cmds_common.study.Study
        The study (treatment levels).
    published : pandas.DataFrame
        The published figures (:func:`cmds_common.reference.published_figures`).
    freq : FrequentistResults
        This data's frequentist results.
    bayes : dict of str to pandas.DataFrame
        Per Bayesian spec (by its label), its ATT summary
        (:func:`analysis.g_computation.summarise_draws`).

    Returns
    -------
    pandas.DataFrame
        ``estimate_label``, ``source``, ``estimate``, ``low``, ``high`` (95%), ``note``; all in
        index points.
    """
    treatment = study.raw["treatment"]
    control, treated = treatment["control"], treatment["treated"]
    att = figure_value(published, "psm_att", treated)
    se = figure_value(published, "psm_att_se", treated)
    t_printed = figure_value(published, "psm_att_t", treated)
    diff = figure_value(published, "integration_index_mean", treated) - figure_value(
        published, "integration_index_mean", control
    )
    term = effect_term(study)
    full = freq.ols_full.set_index("term").loc[term]
    stepwise = freq.ols_stepwise.set_index("term")
    match = freq.matching
    rows = [
        _row(
            "published: difference of group means",
            "published",
            diff,
            np.nan,
            np.nan,
            "6.649 - (-1.438); the ANOVA F = 28.311 says the difference is not zero",
        ),
        _row(
            "published: PSM ATT (k = 4, caliper 0.02)",
            "published",
            att,
            att - Z95 * se,
            att + Z95 * se,
            f"interval from the printed SE {se}; 6.47/1.48 = {att / se:.2f}, but the abstract "
            f"prints T = {t_printed}: the printed T and SE disagree",
        ),
        _row(
            "ANOVA: difference of group means",
            "frequentist",
            float(freq.difference["estimate"].iloc[0]),
            float(freq.difference["low"].iloc[0]),
            float(freq.difference["high"].iloc[0]),
            f"one-way ANOVA F = {freq.anova['f'].iloc[0]:.2f}, "
            f"p {_relation(freq.anova['p'].iloc[0])}",
        ),
        _row(
            "OLS, full model (HC3 SEs)",
            "frequentist",
            float(full["estimate"]),
            float(full["low"]),
            float(full["high"]),
            "every covariate; robust SEs",
        ),
    ]
    if term in stepwise.index:
        row = stepwise.loc[term]
        rows.append(
            _row(
                "OLS, stepwise (the paper's procedure)",
                "frequentist",
                float(row["estimate"]),
                float(row["low"]),
                float(row["high"]),
                "SPSS-style selection; SEs ignore the selection",
            )
        )
    rows.append(
        _row(
            "PSM ATT (k = 4, caliper 0.02, Abadie-Imbens SE)",
            "frequentist",
            match.att,
            match.att - Z95 * match.se,
            match.att + Z95 * match.se,
            f"SE {match.se:.2f}, t = {match.t:.2f}; {match.n_matched_treated} of "
            f"{match.n_treated} treated matched",
        )
    )
    for name, summary in bayes.items():
        row = summary.iloc[0]
        rows.append(
            _row(
                f"Bayesian ATT, {name} (g-computation)",
                "Bayesian",
                float(row["mean"]),
                float(row["low"]),
                float(row["high"]),
                f"posterior mean and 95% CrI; P(ATT > 0) {_relation(row['p_positive'])}",
            )
        )
    return pd.DataFrame(rows)


def published_figures_table(
    study: Study,
    published: pd.DataFrame,
    table: pd.DataFrame,
    freq: FrequentistResults,
    variance: pd.DataFrame,
) -> pd.DataFrame:
    """Every published figure beside the same figure computed on this data.

    Parameters
    ----------
    study : cmds_common.study.Study
        The study (treatment, index name).
    published : pandas.DataFrame
        The published figures.
    table : pandas.DataFrame
        The data with the index.
    freq : FrequentistResults
        This data's frequentist results.
    variance : pandas.DataFrame
        The factor analysis's variance table (:class:`analysis.factor_index.FactorIndex`).

    Returns
    -------
    pandas.DataFrame
        ``figure``, ``label`` (when the published file has one), ``group``, ``published``,
        ``this_data``, ``unit``.
    """
    treatment = study.raw["treatment"]
    index = table[study.raw["index"]["name"]]
    group = table[treatment["variable"]]
    match = freq.matching
    share = study.raw["index"].get("published_share") or {}
    ours = {
        ("n_insured_analysed", "all"): len(table),
        ("n_host_city_smi", treatment["treated"]): int((group == treatment["treated"]).sum()),
        ("n_hometown_smi", treatment["control"]): int((group == treatment["control"]).sum()),
        ("share_host_city_smi", treatment["treated"]): 100 * (group == treatment["treated"]).mean(),
        ("anova_f", "all"): float(freq.anova["f"].iloc[0]),
        ("psm_att", treatment["treated"]): match.att,
        ("psm_att_se", treatment["treated"]): match.se,
        ("psm_att_t", treatment["treated"]): match.t,
    }
    for level in (treatment["control"], treatment["treated"]):
        ours[("integration_index_mean", level)] = float(index[group == level].mean())
        ours[("integration_index_sd", level)] = float(index[group == level].std())
    if share.get("factor") in variance.index:
        ours[(share["figure"], "all")] = float(variance.loc[share["factor"], "share_of_explained"])
    rows = published.assign(
        this_data=[
            ours.get((f, g), np.nan)
            for f, g in zip(published["figure"], published["group"], strict=True)
        ]
    )
    columns = ["figure", "label", "group", "published", "this_data", "unit"]
    rows = rows.rename(columns={"value": "published"})
    return rows[[c for c in columns if c in rows]]


def index_scale_table(
    study: Study, published: pd.DataFrame, table: pd.DataFrame, result: FactorIndex
) -> pd.DataFrame:
    """Group means and SDs of the index on each candidate scale, beside the published ones.

    Shows which weighting of the factor scores reproduces the published index (our reading of a
    scale the paper does not state).

    Parameters
    ----------
    study : cmds_common.study.Study
        The study (treatment levels).
    published : pandas.DataFrame
        The published figures (``integration_index_mean``/``_sd`` by group).
    table : pandas.DataFrame
        The data the factor analysis was run on (same rows as ``result``).
    result : FactorIndex
        The factor analysis.

    Returns
    -------
    pandas.DataFrame
        ``scale``, ``formula``, then per group ``mean_<group>``, ``sd_<group>``; the first row
        holds the published figures.
    """
    treatment = study.raw["treatment"]
    levels = [treatment["control"], treatment["treated"]]
    group = table[treatment["variable"]].to_numpy()
    row = {"scale": "published", "formula": "not stated"}
    for level in levels:
        row[f"mean_{level}"] = figure_value(published, "integration_index_mean", level)
        row[f"sd_{level}"] = figure_value(published, "integration_index_sd", level)
    rows = [row]
    for scale, formula in INDEX_SCALES.items():
        values = index_on_scale(result, scale).to_numpy()
        row = {"scale": scale, "formula": formula}
        for level in levels:
            row[f"mean_{level}"] = float(values[group == level].mean())
            row[f"sd_{level}"] = float(values[group == level].std(ddof=1))
        rows.append(row)
    return pd.DataFrame(rows)
