"""Pooled synthetic waves: seeded generator, its truth, compact storage and exact aggregation.

No sampling. The aggregation check is against an independent NumPy/SciPy computation: for rows
collapsed into patterns ``c`` (identical design row and group indices) with ``s_c`` successes
out of ``t_c`` respondents,

    sum_c log Binomial(s_c | t_c, p_c) = sum_i log Bernoulli(y_i | p_i) + sum_c log C(t_c, s_c),

so the aggregated binomial log-likelihood equals the row-level Bernoulli one up to the constant
``sum_c log C(t_c, s_c)`` (the binomial coefficients), which the compiled log-density leaves out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

from cmds_common.analysis_table import data_hash
from cmds_common.spec import load_spec, spec_from_dict
from data_prep.build_cli import parse_waves
from data_prep.synthetic_waves import (
    CATEGORICAL_PREDICTORS,
    COLUMNS,
    generate_pooled_waves,
    load_wave_params,
)
from models import log_density
from models.aggregation import aggregate_rows, pattern_codes
from models.design import build_design
from models.log_density_sampler import prepare_problem

N, SEED = 4000, 31


@pytest.fixture(scope="module")
def sample():
    return generate_pooled_waves(N, SEED)


@pytest.fixture(scope="module")
def spec():
    return load_spec("pooled_waves")


def test_same_seed_same_sample_and_another_seed_another(sample):
    again = generate_pooled_waves(N, SEED)
    assert data_hash(again.data) == data_hash(sample.data)
    pd.testing.assert_frame_equal(again.province_wave_truth, sample.province_wave_truth)
    other = generate_pooled_waves(N, SEED + 1)
    assert data_hash(other.data) != data_hash(sample.data)


def test_columns_are_compact_and_exact(sample):
    data = sample.data
    assert tuple(data.columns) == COLUMNS
    assert data["health_record"].dtype == np.int8
    assert set(np.unique(data["health_record"])) == {0, 1}
    assert data["respondent_id"].dtype == np.int32
    np.testing.assert_array_equal(data["respondent_id"], np.arange(1, N + 1))
    assert data["age_years"].dtype == np.float32
    np.testing.assert_array_equal(data["age_years"], np.floor(data["age_years"]))
    categorical = [c for c in data.columns if isinstance(data[c].dtype, pd.CategoricalDtype)]
    assert len(categorical) == len(COLUMNS) - 3
    assert all(data[c].cat.codes.dtype == np.int8 for c in categorical)
    assert list(data["wave"].cat.categories) == [str(w) for w in range(2011, 2019)]
    assert data["wave"].value_counts().eq(N // 8).all()


def test_truth_tables_describe_the_sample(sample):
    params = load_wave_params()
    truth = sample.province_wave_truth
    assert len(truth) == 32 * 8 and len(sample.province_truth) == 32
    counts = sample.data.groupby(["province", "wave"], observed=False).size()
    observed = counts.loc[list(zip(truth["province"], truth["wave"], strict=True))].to_numpy()
    np.testing.assert_array_equal(observed, truth["n"])
    assert truth["province_wave_effect"].std() == pytest.approx(params.province_wave_sd, rel=0.2)
    coefficients = sample.coefficient_truth.set_index("parameter")["value"]
    assert coefficients["wave_2018"] == params.wave_effects[2018] - params.wave_effects[2011]


def test_a_subset_of_waves_is_its_own_reference():
    small = generate_pooled_waves(800, SEED, waves=[2014, 2016])
    assert list(small.data["wave"].cat.categories) == ["2014", "2016"]
    coefficients = small.coefficient_truth.set_index("parameter")["value"]
    assert coefficients["wave_2016"] == pytest.approx(0.58 - 0.35)
    with pytest.raises(ValueError, match="waves must be among"):
        generate_pooled_waves(800, SEED, waves=[2010])


def test_outcome_rate_per_wave_is_that_of_the_truth():
    """Observed share with a record per wave against the mean true probability (4 SE)."""
    large = generate_pooled_waves(40_000, SEED)
    every_term = " + ".join((*CATEGORICAL_PREDICTORS, "age_group", "wave"))
    truth_spec = spec_from_dict({"name": "truth", "formula": f"health_record ~ {every_term}"})
    design = build_design(large.data, truth_spec)
    truth = large.coefficient_truth.set_index("parameter")["value"]
    # the design centres nothing categorical: its columns are the truth's 0/1 indicators
    eta = truth["intercept"] + design.X @ truth[design.terms].to_numpy()
    province = large.province_truth.set_index("province")["province_effect"]
    eta += province[large.data["province"].astype(str)].to_numpy()
    level = large.data["province"].astype(str) + ":" + large.data["wave"].astype(str)
    deviation = large.province_wave_truth.set_index("province_wave_level")["province_wave_effect"]
    eta += deviation[level].to_numpy()
    p = special.expit(eta)
    for wave in large.data["wave"].cat.categories:
        rows = (large.data["wave"] == wave).to_numpy()
        se = np.sqrt((p[rows] * (1 - p[rows])).sum()) / rows.sum()
        assert abs(design.y[rows].mean() - p[rows].mean()) < 4 * se, wave


def _by_hand(theta, design, spec, X, groups):
    """Linear predictor of rows ``(X, groups)`` and the log prior, from the docstring's model.

    ``theta`` is the non-centred layout of :mod:`models.log_density`: alpha_c (log-odds at the
    column means), beta, then per factor log sigma and the standardised effects.
    """
    n_terms = len(design.terms)
    beta = theta[1 : 1 + n_terms]
    alpha = theta[0] - design.X.mean(axis=0) @ beta
    eta = alpha + X @ beta
    priors = spec.priors
    log_prior = stats.norm.logpdf(alpha, scale=priors.intercept_sd)
    log_prior += stats.norm.logpdf(beta, scale=priors.coefficient_sd / design.term_scales).sum()
    position = 1 + n_terms
    for f, group in enumerate(design.groups):
        log_sigma, z = theta[position], theta[position + 1 : position + 1 + len(group.levels)]
        sigma = np.exp(log_sigma)
        eta = eta + sigma * z[groups[:, f]]
        log_prior += stats.halfnorm.logpdf(sigma, scale=priors.group_sd_scale) + log_sigma
        log_prior += stats.norm.logpdf(z).sum()
        position += 1 + len(group.levels)
    return eta, log_prior


def test_aggregated_binomial_log_density_is_the_row_level_bernoulli(sample, spec):
    design = build_design(sample.data, spec)
    n = len(design.y)
    groups = np.column_stack([group.idx for group in design.groups])
    patterns = aggregate_rows(design.X, design.y.astype(float), np.ones(n), groups)
    assert patterns.n_patterns < n
    assert patterns.trials.sum() == n and patterns.successes.sum() == design.y.sum()
    rows_problem = prepare_problem(design, spec, "non_centred", aggregate=False)
    patterns_problem = prepare_problem(design, spec, "non_centred", aggregate=True)
    assert patterns_problem.n_rows == patterns.n_patterns
    s, t = patterns.successes, patterns.trials
    log_choose = (
        special.gammaln(t + 1) - special.gammaln(s + 1) - special.gammaln(t - s + 1)
    ).sum()
    assert log_choose > 0  # some patterns hold several respondents with mixed outcomes
    rng = np.random.default_rng(17)
    for _ in range(5):
        theta = rng.normal(scale=0.3, size=rows_problem.n_dim)
        by_row, grad_row = log_density.evaluate(theta, rows_problem.buffer)
        by_pattern, grad_pattern = log_density.evaluate(theta, patterns_problem.buffer)
        assert by_pattern == pytest.approx(by_row, rel=1e-11)
        np.testing.assert_allclose(grad_pattern, grad_row, rtol=1e-9, atol=1e-9)

        eta_rows, log_prior = _by_hand(theta, design, spec, design.X, groups)
        eta_patterns, _ = _by_hand(theta, design, spec, patterns.X, patterns.group_idx)
        bernoulli = stats.bernoulli.logpmf(design.y, special.expit(eta_rows)).sum()
        binomial = stats.binom.logpmf(s, t, special.expit(eta_patterns)).sum()
        assert binomial - log_choose == pytest.approx(bernoulli, rel=1e-10)
        assert by_pattern == pytest.approx(log_prior + bernoulli, rel=1e-10)


def test_pattern_codes_sort_as_the_rows_do():
    rng = np.random.default_rng(4)
    rows = np.column_stack(
        [rng.integers(0, 5, 300), rng.choice([-0.25, 0.75], 300), rng.normal(size=300).round(1)]
    )
    codes = pattern_codes(list(rows.T), len(rows))
    distinct, inverse = np.unique(rows, axis=0, return_inverse=True)
    _, code_inverse = np.unique(codes, return_inverse=True)
    np.testing.assert_array_equal(code_inverse, inverse.ravel())
    assert len(np.unique(codes)) == len(distinct)
    wide = [rng.permutation(2**16).astype(float)] * 4  # 2**64 combinations: not numbered
    assert pattern_codes(wide, 2**16) is None


def test_wave_ranges_and_lists_are_read():
    assert parse_waves("2011-2014") == [2011, 2012, 2013, 2014]
    assert parse_waves("2011,2015") == [2011, 2015]
