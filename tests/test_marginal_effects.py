"""AMEs on the probability scale: by hand at fixed draws, and against statsmodels' margins."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from scipy import special

from analysis.marginal_effects import average_marginal_effects, profile_predictions
from analysis.prior_checks import prior_uptake
from cmds_common.spec import load_spec
from models.design import build_design


def _posterior(arrays: dict[str, tuple[tuple[str, ...], np.ndarray]], coords) -> xr.Dataset:
    """A posterior with one chain from ``{name: (dims without chain, values (draws, ...))}``."""
    return xr.Dataset(
        {name: (("chain", "draw", *dims), values[None]) for name, (dims, values) in arrays.items()},
        coords=coords,
    )


@pytest.fixture(scope="module")
def model2(default_table):
    spec = load_spec("model2")
    design = build_design(default_table, spec)
    rng = np.random.default_rng(11)
    draws, k, g = 3, len(design.terms), len(design.group_levels)
    posterior = _posterior(
        {
            "intercept": ((), rng.normal(-0.5, 0.2, draws)),
            "beta": (("term",), rng.normal(0, 0.4, (draws, k))),
            "province_effect": (("province",), rng.normal(0, 0.5, (draws, g))),
        },
        {"term": design.terms, "province": design.group_levels},
    )
    return spec, design, posterior


def test_logit_ame_equals_hand_computation_at_fixed_draws(default_table, model2):
    spec, design, posterior = model2
    table = average_marginal_effects(posterior, design, spec, default_table, max_draws=None)
    beta = posterior["beta"].to_numpy()[0]
    alpha = posterior["intercept"].to_numpy()[0]
    effect = posterior["province_effect"].to_numpy()[0][:, design.group_idx]
    eta = alpha[:, None] + beta @ design.X.T + effect
    # binary predictor: everyone with vs everyone without local insurance
    col = design.terms.index("local_medical_insurance_yes")
    change = special.expit(eta + beta[:, [col]] * (1 - design.X[:, col])) - special.expit(
        eta - beta[:, [col]] * design.X[:, col]
    )
    row = table.query("variable == 'local_medical_insurance'").iloc[0]
    assert row["estimate"] == pytest.approx(np.median(change.mean(axis=1)), rel=1e-8)
    # continuous predictor: analytic derivative p(1 - p) beta
    col = design.terms.index("age_years")
    p = special.expit(eta)
    derivative = (p * (1 - p)).mean(axis=1) * beta[:, col]
    row = table.query("variable == 'age_years'").iloc[0]
    assert row["estimate"] == pytest.approx(np.median(derivative), rel=1e-6)
    assert row["ci_low"] == pytest.approx(np.quantile(derivative, 0.025), rel=1e-6)


def test_ordinal_ame_equals_analytic_derivative(default_table):
    spec = load_spec("self_rated_health")
    design = build_design(default_table, spec)
    rng = np.random.default_rng(5)
    draws, k, g = 2, len(design.terms), len(design.group_levels)
    cut = np.sort(rng.normal(0, 1.5, (draws, 3)), axis=1)
    posterior = _posterior(
        {
            "beta": (("term",), rng.normal(0, 0.3, (draws, k))),
            "cutpoints": (("cut",), cut),
            "province_effect": (("province",), rng.normal(0, 0.3, (draws, g))),
        },
        {"term": design.terms, "province": design.group_levels},
    )
    table = average_marginal_effects(posterior, design, spec, default_table, max_draws=None)
    beta = posterior["beta"].to_numpy()[0]
    effect = posterior["province_effect"].to_numpy()[0][:, design.group_idx]
    eta = beta @ design.X.T + effect
    col = design.terms.index("age_years")

    def density(x):
        return special.expit(x) * (1 - special.expit(x))

    padded = np.concatenate([np.full((draws, 1), -np.inf), cut, np.full((draws, 1), np.inf)], 1)
    rows = table.query("variable == 'age_years'").set_index("outcome")
    assert rows["estimate"].sum() == pytest.approx(0.0, abs=1e-6)  # probabilities sum to 1
    for j, level in enumerate(design.outcome_levels):
        # d/d eta [F(c_j - eta) - F(c_{j-1} - eta)] = f(c_{j-1} - eta) - f(c_j - eta)
        lower = density(padded[:, [j]] - eta)
        upper = density(padded[:, [j + 1]] - eta)
        by_hand = ((lower - upper) * beta[:, [col]]).mean(axis=1)
        assert rows.loc[f"P({level})", "estimate"] == pytest.approx(np.median(by_hand), rel=1e-5)


def test_pooled_logit_ame_matches_statsmodels_margins(default_table):
    import statsmodels.api as sm

    spec = load_spec("model2_pooled")
    design = build_design(default_table, spec)
    result = sm.Logit(design.y, sm.add_constant(design.X)).fit(disp=False)
    params = np.asarray(result.params)
    posterior = _posterior(
        {"intercept": ((), params[:1]), "beta": (("term",), params[None, 1:])},
        {"term": design.terms},
    )
    ours = average_marginal_effects(posterior, design, spec, default_table, max_draws=None)
    margins = result.get_margeff(at="overall", dummy=True).margeff
    theirs = dict(zip(design.terms, margins, strict=True))
    for variable in ("local_medical_insurance", "settlement_intention", "hukou", "age_years"):
        term = next(t for t in design.terms if t == variable or t.startswith(f"{variable}_"))
        row = ours.query("variable == @variable").iloc[0]
        assert row["estimate"] == pytest.approx(theirs[term], rel=1e-5), variable


def test_profile_predictions_by_hand(default_table, model2):
    spec, design, posterior = model2
    profiles = {"insured": {"local_medical_insurance": "yes"}}
    table = profile_predictions(posterior, design, spec, default_table, profiles, max_draws=None)
    beta = posterior["beta"].to_numpy()[0]
    alpha = posterior["intercept"].to_numpy()[0]
    effect = posterior["province_effect"].to_numpy()[0]
    X = design.X.copy()
    X[:, design.terms.index("local_medical_insurance_yes")] = 1.0
    fixed = alpha[:, None] + beta @ X.T
    overall = special.expit(fixed + effect[:, design.group_idx]).mean(axis=1)
    rows = table.set_index("group")
    assert rows.loc["overall", "estimate"] == pytest.approx(np.median(overall), rel=1e-8)
    j = design.group_levels.index("Guangdong")
    standardised = special.expit(fixed + effect[:, [j]]).mean(axis=1)
    assert rows.loc["Guangdong", "estimate"] == pytest.approx(np.median(standardised), rel=1e-8)
    assert len(rows) == 1 + len(design.group_levels)


def test_prior_uptake_matches_numpy_draws_of_the_same_priors(default_table):
    """The fit's prior draws (models.prior_draws) against an independent draw, written here, of
    the documented priors.

    Monte Carlo tolerance: 2,000 and 8,000 draws; the SE of a quantile of a
    spread-out share is below 0.015, so 0.04 is about 2.5 SE.
    """
    spec = load_spec("model2")
    design = build_design(default_table, spec)
    summary, overall = prior_uptake(design, spec, draws=2000, seed=9)
    rng = np.random.default_rng(1)
    n = 8_000
    alpha = rng.normal(0, 1.5, n)
    beta = rng.normal(0, 1, (n, len(design.terms))) / design.term_scales
    sigma = np.abs(rng.normal(0, 1, n))
    u = sigma[:, None] * rng.normal(0, 1, (n, len(design.group_levels)))
    # mean over respondents of expit(eta), in chunks to spare memory
    uptake = np.concatenate(
        [
            special.expit(
                alpha[k : k + 500, None]
                + beta[k : k + 500] @ design.X.T
                + u[k : k + 500][:, design.group_idx]
            ).mean(axis=1)
            for k in range(0, n, 500)
        ]
    )
    for q in (0.1, 0.5, 0.9):
        assert np.quantile(overall, q) == pytest.approx(np.quantile(uptake, q), abs=0.04), q
    assert summary.loc[0, "group"] == "overall"


def test_zero_one_number_gets_the_discrete_change_as_statsmodels_does(default_table):
    # a declared binary predictor is stored as 0/1 integers: its AME is everyone 1 against
    # everyone 0 (not a derivative), agreeing with statsmodels' margins on the same logit
    from analysis.marginal_effects import frequentist_logit_ames
    from cmds_common.spec import spec_from_dict

    table = default_table.assign(
        insured=(default_table["local_medical_insurance"] == "yes").astype("int64")
    )
    spec = spec_from_dict({"name": "t", "formula": "health_record ~ insured + age_years"})
    design = build_design(table, spec)
    frequentist = frequentist_logit_ames(design, table, spec).set_index("variable")
    import statsmodels.api as sm

    result = sm.Logit(design.y, sm.add_constant(design.X)).fit(disp=False)
    params = np.asarray(result.params)
    posterior = _posterior(
        {"intercept": ((), params[:1]), "beta": (("term",), params[None, 1:])},
        {"term": design.terms},
    )
    ours = average_marginal_effects(posterior, design, spec, table, max_draws=None)
    row = ours.set_index("variable").loc["insured"]
    assert row["contrast"] == "1 vs 0"
    # by hand: the mean change in the predicted probability from 0 to 1
    eta = params[0] + design.X @ params[1:]
    x = table["insured"].to_numpy()  # the design column is x centred at its mean
    beta = params[1 + design.terms.index("insured")]
    change = special.expit(eta + beta * (1 - x)) - special.expit(eta - beta * x)
    assert row["estimate"] == pytest.approx(change.mean(), rel=1e-8)
    assert frequentist.loc["insured", "contrast"] == "1 vs 0"
    assert frequentist.loc["insured", "freq_estimate"] == pytest.approx(change.mean(), rel=1e-5)


def test_frequentist_ame_is_withheld_under_separation_and_in_interactions(default_table):
    # field case 5: a category whose respondents all have the outcome has no ML estimate, so no
    # frequentist AME is shown for it; a variable in an interaction has none comparable either
    from analysis.marginal_effects import frequentist_logit_ames
    from cmds_common.spec import spec_from_dict
    from models.frequentist import NOT_ESTIMABLE

    table = default_table.copy()
    table.loc[table["occupation"] == "employed", "health_record"] = 1
    spec = spec_from_dict(
        {"name": "t", "formula": "health_record ~ occupation + hukou * local_friends + age_years"}
    )
    ames = frequentist_logit_ames(build_design(table, spec), table, spec).set_index("variable")
    assert ames.loc["occupation", "freq_note"] == NOT_ESTIMABLE
    assert np.isnan(ames.loc["occupation", "freq_estimate"])
    assert ames.loc["age_years", "freq_note"] == "" and np.isfinite(
        ames.loc["age_years", "freq_estimate"]
    )
    assert "hukou" not in ames.index and "local_friends" not in ames.index
