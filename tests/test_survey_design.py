"""Design-based standard errors with strata and PSUs (the spec's ``strata:`` and ``psu:``).

Known truth: without a declared design the linearisation meat is the HC0 meat with n/(n-1)
(the weighted scores sum to zero at the estimate), so the earlier standard errors are kept;
with strata and PSUs it is computed here a second way, by an explicit loop over PSU totals.

Agreement with R (skipped, with the reason, when ``Rscript`` with ``survey`` and ``MASS`` is
absent): ``svyglm(design = svydesign(ids = ~psu, strata = ~stratum, weights = ~w, nest =
TRUE))`` for the logit (quasibinomial) and gaussian fits, ``svyolr`` for the ordered logit, on
the default data with its 32 strata and 284 PSUs. The logit and gaussian fits are the same
estimator computed two ways: coefficients within 1e-6 and standard errors within 1e-4
relative (both iterate to convergence; the variance formula is identical). The ordered logit
is maximised by BFGS here and by ``optim`` in R, each stopping at its own gradient tolerance,
so coefficients agree within 1e-3 and standard errors within 1e-3 relative.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import textwrap

import numpy as np
import pandas as pd
import pytest

from cmds_common.spec import load_spec, spec_from_dict
from models.design import build_design
from models.frequentist import design_description, fit_frequentist, linearisation_meat


def test_meat_without_design_is_hc0_with_small_sample_factor():
    rng = np.random.default_rng(1)
    scores = rng.normal(size=(50, 3))
    scores -= scores.mean(axis=0)  # as at the estimate: the scores sum to zero
    expected = scores.T @ scores * 50 / 49
    np.testing.assert_allclose(linearisation_meat(scores), expected, rtol=1e-12)


def test_meat_with_strata_and_clusters_against_a_loop():
    rng = np.random.default_rng(2)
    n = 60
    scores = rng.normal(size=(n, 2))
    strata = rng.integers(0, 3, n)
    psu = strata * 10 + rng.integers(0, 4, n)  # PSUs numbered within strata
    expected = np.zeros((2, 2))
    for h in np.unique(strata):
        totals = [scores[psu == c].sum(axis=0) for c in np.unique(psu[strata == h])]
        totals = np.array(totals)
        deviations = totals - totals.mean(axis=0)
        m = len(totals)
        expected += m / (m - 1) * sum(np.outer(d, d) for d in deviations)
    np.testing.assert_allclose(linearisation_meat(scores, strata, psu), expected, rtol=1e-12)


def test_single_psu_stratum_adds_nothing_and_is_said_in_words(default_table):
    table = default_table.copy()
    one = table["stratum"].cat.categories[0]
    table.loc[table["stratum"] == one, "psu"] = table.loc[table["stratum"] == one, "psu"].iloc[0]
    spec = dataclasses.replace(load_spec("model1"), strata="stratum", psu="psu")
    design = build_design(table, spec)
    assert "1 strata with a single PSU add no variance" in design_description(design)
    assert "may be too small" in fit_frequentist(design)["survey_design"].iloc[0]


def test_no_design_keeps_the_weights_only_standard_errors(default_table):
    spec = load_spec("model1")
    design = build_design(default_table, spec)
    table = fit_frequentist(design)
    assert table["survey_design"].iloc[0].startswith("weights only")
    clustered = fit_frequentist(
        build_design(default_table, dataclasses.replace(spec, strata="stratum", psu="psu"))
    )
    np.testing.assert_allclose(clustered["log_odds"], table["log_odds"], rtol=1e-12)
    assert not np.allclose(clustered["se"], table["se"], rtol=1e-3)


def test_spec_keys_are_read_and_written_back_only_when_set():
    from cmds_common.spec import spec_to_yaml

    raw = {"name": "m", "formula": "y ~ a + (1 | psu)", "strata": "stratum", "psu": "psu"}
    spec = spec_from_dict(raw)
    assert (spec.strata, spec.psu) == ("stratum", "psu")
    assert {"stratum", "psu"} <= set(spec.used_columns())
    assert "strata: stratum" in spec_to_yaml(spec)
    assert "strata" not in spec_to_yaml(spec_from_dict({"name": "m", "formula": "y ~ a"}))


R_SCRIPT = textwrap.dedent(
    """
    suppressPackageStartupMessages({library(survey); library(MASS)})
    options(survey.lonely.psu = "certainty")
    args <- commandArgs(trailingOnly = TRUE)
    d <- read.csv(args[1])
    terms <- grep("^x[0-9]+$", names(d), value = TRUE)
    design <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w, nest = TRUE, data = d)
    rhs <- paste(terms, collapse = " + ")
    out <- function(fit, file) {
      b <- coef(fit)
      write.csv(data.frame(term = names(b), estimate = b, se = sqrt(diag(vcov(fit)))[names(b)]),
                file, row.names = FALSE)
    }
    out(svyglm(as.formula(paste("yb ~", rhs)), design = design, family = quasibinomial()),
        args[2])
    out(svyglm(as.formula(paste("yg ~", rhs)), design = design), args[3])
    d$yo <- factor(d$yo, ordered = TRUE)
    design <- svydesign(ids = ~psu, strata = ~stratum, weights = ~w, nest = TRUE, data = d)
    out(svyolr(as.formula(paste("yo ~", rhs)), design = design), args[4])
    """
)


def _r_missing() -> str | None:
    if shutil.which("Rscript") is None:
        return "Rscript not found (apt-get install r-base-core r-cran-survey)"
    check = subprocess.run(
        ["Rscript", "-e", "library(survey); library(MASS)"], capture_output=True, text=True
    )
    return None if check.returncode == 0 else "R package survey not installed (r-cran-survey)"


@pytest.fixture(scope="module")
def r_design_fits(default_table, tmp_path_factory):
    reason = _r_missing()
    if reason:
        pytest.skip(reason)
    formula = "local_medical_insurance + settlement_intention + local_friends + hukou + age_years"
    designs = {}
    for family, outcome in (
        ("bernoulli", "family_doctor"),
        ("gaussian", "integration_index"),
        ("cumulative_logit", "self_rated_health_4"),
    ):
        raw = {
            "name": family,
            "formula": f"{outcome} ~ {formula}",
            "family": family,
            "weights": "weight",
            "strata": "stratum",
            "psu": "psu",
        }
        designs[family] = build_design(default_table, spec_from_dict(raw))
    X = designs["bernoulli"].X
    frame = pd.DataFrame(X, columns=[f"x{k}" for k in range(X.shape[1])])
    frame["yb"] = designs["bernoulli"].y
    frame["yg"] = designs["gaussian"].y
    frame["yo"] = designs["cumulative_logit"].y
    frame["w"] = default_table["weight"].to_numpy()
    frame["stratum"] = default_table["stratum"].astype(str).to_numpy()
    frame["psu"] = default_table["psu"].astype(str).to_numpy()
    folder = tmp_path_factory.mktemp("r_design")
    paths = [folder / name for name in ("data.csv", "logit.csv", "gaussian.csv", "olr.csv")]
    frame.to_csv(paths[0], index=False)
    script = folder / "fit.R"
    script.write_text(R_SCRIPT)
    run = subprocess.run(
        ["Rscript", str(script), *map(str, paths)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr
    r_tables = {
        "bernoulli": pd.read_csv(paths[1]),
        "gaussian": pd.read_csv(paths[2]),
        "cumulative_logit": pd.read_csv(paths[3]),
    }
    return designs, r_tables


@pytest.mark.parametrize(
    ("family", "coef_tol", "se_rtol"),
    [("bernoulli", 1e-6, 1e-4), ("gaussian", 1e-6, 1e-4), ("cumulative_logit", 1e-3, 1e-3)],
)
def test_design_based_standard_errors_match_svyglm(r_design_fits, family, coef_tol, se_rtol):
    designs, r_tables = r_design_fits
    ours = fit_frequentist(designs[family])
    theirs = r_tables[family].set_index("term")
    names = [f"x{k}" for k in range(len(ours))]
    estimate = ours["estimate"] if family == "gaussian" else ours["log_odds"]
    np.testing.assert_allclose(estimate, theirs.loc[names, "estimate"], atol=coef_tol)
    np.testing.assert_allclose(ours["se"], theirs.loc[names, "se"], rtol=se_rtol)
    assert ours["survey_design"].iloc[0] == "32 strata, 284 PSUs"


def test_psu_intercept_is_one_more_grouping_factor(default_table):
    from models.hierarchical import build_model, initial_point_is_finite

    spec = load_spec("model2_psu")
    design = build_design(default_table, spec)
    assert [g.name for g in design.groups] == ["province", "psu"]
    assert len(design.groups[1].levels) == default_table["psu"].nunique() == 284
    assert (spec.strata, spec.psu) == ("stratum", "psu")
    model = build_model(design, spec)
    assert {"psu_sigma", "psu_offset", "psu_effect"} <= set(model.named_vars)
    assert model.named_vars["psu_effect"].eval().shape == (284,)
    assert initial_point_is_finite(model)
