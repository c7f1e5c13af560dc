"""Frequentist fits per family against statsmodels / an expanded data set (tight tolerances)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.miscmodels.ordinal_model import OrderedModel

from cmds_common.spec import spec_from_dict
from models.design import build_design
from models.frequentist import fit_frequentist
from tests.test_families import wave2017_table

COLUMNS = ["term", "estimate", "se", "ci_low", "ci_high", "p_value", "note", "scale"]


@pytest.fixture(scope="module")
def table(default_table):
    return wave2017_table(default_table, n=600)


def _design(table, formula, **extra):
    return build_design(table, spec_from_dict({"name": "f", "formula": formula, **extra}))


def test_gaussian_is_weighted_least_squares_with_sandwich_se(table):
    design = _design(
        table,
        "integration_index ~ local_medical_insurance + age_years",
        family="gaussian",
        weights="weight",
    )
    fit = fit_frequentist(design)
    assert set(COLUMNS) <= set(fit.columns) and set(fit["scale"]) == {"coefficient (outcome units)"}
    X = sm.add_constant(design.X)
    reference = sm.WLS(design.y, X, weights=design.weights).fit(cov_type="HC0")
    n = len(design.y)
    np.testing.assert_allclose(fit["estimate"], reference.params[1:], rtol=1e-9)
    np.testing.assert_allclose(fit["se"], reference.bse[1:] * np.sqrt(n / (n - 1)), rtol=1e-9)


def test_binomial_equals_the_logit_on_expanded_rows(table):
    design = _design(
        table, "n_yes ~ local_medical_insurance + age_years", family="binomial", trials="n_asked"
    )
    fit = fit_frequentist(design)
    rows = table.loc[table.index.repeat(table["n_asked"])].copy()
    rank = rows.groupby(level=0).cumcount()
    rows["success"] = (rank < rows["n_yes"]).astype(int)
    expanded = fit_frequentist(_design(rows, "success ~ local_medical_insurance + age_years"))
    np.testing.assert_allclose(fit["log_odds"], expanded["log_odds"], rtol=1e-6)
    # the sandwich treats a row's trials as one unit: statsmodels' HC0 on (successes, failures)
    counts = np.column_stack([design.y, design.trials - design.y])
    reference = sm.GLM(counts, sm.add_constant(design.X), family=sm.families.Binomial())
    n = len(design.y)
    hc0 = reference.fit(cov_type="HC0").bse[1:] * np.sqrt(n / (n - 1))
    np.testing.assert_allclose(fit["se"], hc0, rtol=1e-6)
    assert set(fit["scale"]) == {"odds ratio"}
    assert (fit["estimate"] == fit["odds_ratio"]).all()


def test_ordered_logit_matches_statsmodels_without_weights(table):
    design = _design(
        table, "self_rated_health ~ local_medical_insurance + hukou", family="cumulative_logit"
    )
    fit = fit_frequentist(design)
    assert set(COLUMNS) <= set(fit.columns) and set(fit["scale"]) == {"cumulative odds ratio"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = OrderedModel(design.y, design.X, distr="logit").fit(method="bfgs", disp=False)
    np.testing.assert_allclose(fit["log_odds"], reference.params[: len(design.terms)], atol=1e-4)
    assert (fit["note"] == "").all()
    # the insured move up the health scale in the simulation (true log cumulative OR 0.6)
    insured = fit.set_index("term").filter(like="local_medical_insurance", axis=0)
    assert (insured["estimate"] > 1).all()


def test_logit_table_keeps_its_columns_and_gains_estimate_and_scale(table):
    fit = fit_frequentist(_design(table, "family_doctor ~ hukou"))
    assert list(fit.columns[:3]) == ["term", "estimate", "log_odds"]
    assert isinstance(fit, pd.DataFrame) and set(fit["scale"]) == {"odds ratio"}
