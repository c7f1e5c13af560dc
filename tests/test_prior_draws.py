"""Prior draws stored with each fit: drawn from the spec's priors, the same prior as is sampled."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from scipy import stats

from cmds_common.spec import load_spec, spec_from_dict
from models.design import build_design
from models.hierarchical import build_model
from models.prior_draws import (
    attach_prior,
    direct_prior_groups,
    prior_groups,
    pymc_prior_groups,
)
from tests.test_families import wave2017_table

DRAWS = 2000


@pytest.fixture(scope="module")
def model2_prior(default_table):
    spec = load_spec("model2")
    design = build_design(default_table, spec)
    return design, spec, prior_groups(design, spec, DRAWS, seed=5)


def test_prior_draws_follow_the_declared_priors(model2_prior):
    """KS tests against the priors the spec declares (seeded: the p-values are fixed numbers;
    a wrong scale, e.g. SD 1 instead of 1.5 for the intercept, gives p < 1e-10 at 2,000 draws)."""
    design, spec, groups = model2_prior
    prior = groups["prior"].isel(chain=0)
    assert prior.sizes["draw"] == DRAWS
    intercept = prior["intercept"].to_numpy()
    assert stats.kstest(intercept, stats.norm(0, spec.priors.intercept_sd).cdf).pvalue > 0.001
    sigma = prior["province_sigma"].to_numpy()
    assert stats.kstest(sigma, stats.halfnorm(scale=spec.priors.group_sd_scale).cdf).pvalue > 0.001
    for k, term in enumerate(design.terms):
        scale = spec.priors.coefficient_sd / design.term_scales[k]
        draws = prior["beta"].sel(term=term).to_numpy()
        assert stats.kstest(draws, stats.norm(0, scale).cdf).pvalue > 0.001, term
    assert list(prior["province_effect"].coords["province"].values) == list(design.groups[0].levels)


def test_prior_predictive_is_the_outcome_drawn_given_the_prior_draws(model2_prior):
    design, _, groups = model2_prior
    y_rep = groups["prior_predictive"]["health_record"]
    assert y_rep.dtype == np.int8 and y_rep.shape == (1, DRAWS, len(design.y))
    assert set(np.unique(y_rep.to_numpy())) == {0, 1}
    # each draw's share of 1s is its respondents' mean probability plus binomial noise
    prior = groups["prior"].isel(chain=0)
    eta = (
        prior["intercept"].to_numpy()[:, None]
        + prior["beta"].to_numpy() @ design.X.T
        + prior["province_effect"].to_numpy()[:, design.groups[0].idx]
    )
    expected = (1 / (1 + np.exp(-eta))).mean(axis=1)
    observed = y_rep.isel(chain=0).to_numpy().mean(axis=1)
    noise = np.sqrt(0.25 / len(design.y))
    assert np.abs(observed - expected).max() < 5 * noise


def test_direct_intercept_gives_the_random_slopes_model_the_same_joint_prior(default_table):
    """The direct intercept and the intercept at the predictors' means (a unit-Jacobian linear
    map) give the same log density at matching points, likelihood included."""
    spec = load_spec("model2_slopes")
    design = build_design(default_table, spec)
    sampled = build_model(design, spec)
    direct = build_model(design, spec, direct_intercept=True)
    logp_sampled = sampled.compile_logp()
    logp_direct = direct.compile_logp()
    rng = np.random.default_rng(0)
    means = design.X.mean(axis=0)
    for _ in range(3):
        point = {k: v + rng.normal(0, 0.3, np.shape(v)) for k, v in sampled.initial_point().items()}
        beta = point["beta"]
        intercept = point.pop("intercept_at_means") - means @ beta
        assert logp_direct({**point, "intercept": intercept}) == pytest.approx(
            logp_sampled({**point, "intercept_at_means": intercept + means @ beta}), rel=1e-9
        )


def test_random_slopes_prior_is_drawn_and_stored(default_table):
    from xarray import DataTree

    spec = load_spec("model2_slopes")
    design = build_design(default_table.sample(400, random_state=1), spec)
    idata = DataTree()
    idata["posterior"] = DataTree()
    attach_prior(idata, design, spec, draws=50, seed=1)
    assert {"prior", "prior_predictive"} <= set(idata.children)
    assert idata.prior["intercept"].shape == (1, 50)
    assert idata.posterior.attrs["prior_draws"] == 50


def test_prior_draws_leave_no_sampling_notice_in_the_log(default_table, caplog):
    spec = load_spec("model2_slopes")  # drawn by PyMC
    design = build_design(default_table.sample(300, random_state=2), spec)
    assert not spec.random_intercepts_only
    with caplog.at_level(logging.INFO):
        prior_groups(design, spec, 10, seed=1)
    assert not [r for r in caplog.records if r.getMessage().startswith("Sampling:")]
    # the logger is given back its own level afterwards
    assert logging.getLogger("pymc.sampling.forward").level == logging.NOTSET


def test_zero_prior_draws_stores_nothing(default_table):
    from xarray import DataTree

    idata = DataTree()
    idata["posterior"] = DataTree()
    spec = load_spec("model1")
    attach_prior(idata, build_design(default_table, spec), spec, draws=0, seed=1)
    assert "prior" not in idata.children and idata.posterior.attrs["prior_draws"] == 0


TWO_ROUTE_SPECS = {
    "binomial_two_factors": {
        "formula": "n_yes ~ local_medical_insurance + age_years + (1 | province) + (1 | city)",
        "family": "binomial",
        "trials": "n_asked",
    },
    "bernoulli_nested": {
        "formula": "family_doctor ~ hukou + local_medical_insurance + (1 | province/city)",
        "weights": "weight",
        "weighted_likelihood": True,
    },
}


@pytest.mark.parametrize("name", sorted(TWO_ROUTE_SPECS))
def test_numpy_prior_draws_match_pymc_forward_sampling(default_table, name):
    """The NumPy route (random-intercept logit and binomial models) and PyMC's
    ``sample_prior_predictive`` on the built model are two implementations of one prior: same
    variables, dims, coords and dtypes, and two-sample KS tests on every scalar parameter, one
    level's effect and the share of successes (seeded, so the p-values are fixed numbers; at
    2,000 draws a wrong scale such as a group SD prior of 0.5 instead of 1 gives p < 1e-20)."""
    spec = spec_from_dict({"name": name, **TWO_ROUTE_SPECS[name]})
    design = build_design(wave2017_table(default_table, n=600, seed=8), spec)
    assert spec.random_intercepts_only
    direct = direct_prior_groups(design, spec, DRAWS, seed=3)
    forward = pymc_prior_groups(design, spec, DRAWS, seed=4)
    for group in ("prior", "prior_predictive"):
        ours, theirs = direct[group], forward[group]
        assert set(ours.data_vars) == set(theirs.data_vars), group
        for variable in ours.data_vars:
            assert ours[variable].dims == theirs[variable].dims, variable
            assert ours[variable].dtype == theirs[variable].dtype, variable
        for dim in ours.dims:
            assert list(ours[dim].values) == list(theirs[dim].values), dim
    scalars = ["intercept", *(f"{g.name}_sigma" for g in design.groups)]
    for variable in scalars:
        a = direct["prior"][variable].to_numpy().ravel()
        b = forward["prior"][variable].to_numpy().ravel()
        assert stats.ks_2samp(a, b).pvalue > 0.001, variable
    for k in range(len(design.terms)):
        a = direct["prior"]["beta"].to_numpy()[0, :, k]
        b = forward["prior"]["beta"].to_numpy()[0, :, k]
        assert stats.ks_2samp(a, b).pvalue > 0.001, design.terms[k]
    last = design.groups[-1].name
    a = direct["prior"][f"{last}_effect"].to_numpy()[0, :, 0]
    b = forward["prior"][f"{last}_effect"].to_numpy()[0, :, 0]
    assert stats.ks_2samp(a, b).pvalue > 0.001
    share = {
        route: groups["prior_predictive"][spec.outcome].to_numpy()[0].sum(axis=1)
        / np.sum(design.trials if spec.family == "binomial" else np.ones(len(design.y)))
        for route, groups in (("direct", direct), ("forward", forward))
    }
    assert stats.ks_2samp(share["direct"], share["forward"]).pvalue > 0.001
