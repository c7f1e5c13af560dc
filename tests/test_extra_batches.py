"""Extra batches when only effective sample sizes fall short (models.batches)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from models import batches
from models.sampling import SamplerSettings


def fake_fit(seed: int, chains: int = 4, draws: int = 50) -> xr.DataTree:
    """A complete-looking fit: posterior, sample stats, pointwise groups and observed data."""
    rng = np.random.default_rng(seed)
    cd = ("chain", "draw")
    coords = {"chain": np.arange(chains), "draw": np.arange(draws)}
    posterior = xr.Dataset(
        {"intercept": (cd, rng.normal(size=(chains, draws)))},
        coords=coords,
        attrs={"seed": seed, "sampling_seconds": 1.5},
    )
    stats = xr.Dataset(
        {
            "diverging": (cd, np.zeros((chains, draws), dtype=bool)),
            "energy": (cd, rng.normal(size=(chains, draws))),
        },
        coords=coords,
    )
    obs = {"obs": np.arange(3)}
    loglik = xr.Dataset(
        {"y": (("chain", "draw", "obs"), rng.normal(size=(chains, draws, 3)))},
        coords={**coords, **obs},
    )
    observed = xr.Dataset({"y": ("obs", np.array([0, 1, 1]))}, coords=obs)
    return xr.DataTree.from_dict(
        {
            "posterior": posterior,
            "sample_stats": stats,
            "log_likelihood": loglik,
            "observed_data": observed,
        }
    )


def checks_table(failing: set[str]) -> pd.DataFrame:
    """A convergence-check table in which exactly the named checks fail."""
    names = ["r_hat", "ess_bulk", "ess_tail", "divergences", "e_bfmi"]
    return pd.DataFrame(
        {
            "check": names,
            "parameter": ["intercept"] * 3 + ["all", "chain 0"],
            "value": [1.0, 1000.0, 1000.0, 0, 0.9],
            "threshold": [1.01, 400.0, 400.0, 0, 0.3],
            "passed": [name not in failing for name in names],
        }
    )


class FakeSampler:
    """Records the seeds it was asked for; ``interrupt_at``: batch number that is stopped."""

    def __init__(self, interrupt_at: int | None = None):
        self.seeds: list[int] = []
        self.interrupt_at = interrupt_at

    def __call__(self, settings: SamplerSettings) -> xr.DataTree:
        if len(self.seeds) == self.interrupt_at:
            raise KeyboardInterrupt("sampling stopped after 10 of 50 draws")
        self.seeds.append(settings.seed)
        return fake_fit(settings.seed, settings.chains, settings.draws)


def run(monkeypatch, failing_by_chains, sampler=None, max_extra=3):
    """Run the loop with the checks replaced by ``failing_by_chains(n_chains) -> set``."""
    monkeypatch.setattr(
        batches,
        "convergence_checks",
        lambda idata, names: checks_table(failing_by_chains(idata.posterior.sizes["chain"])),
    )
    sampler = sampler or FakeSampler()
    lines: list[str] = []
    settings = SamplerSettings(seed=7, chains=4, draws=50, max_extra_batches=max_extra)
    idata, info = batches.sample_in_batches(sampler, settings, ["intercept"], log=lines.append)
    return idata, info, sampler, lines


def test_ess_shortfall_adds_a_batch_and_records_it(monkeypatch):
    idata, info, sampler, lines = run(
        monkeypatch, lambda chains: {"ess_tail"} if chains < 8 else set()
    )
    assert info["extra_batches"] == 1
    assert info["total_chains"] == 8 and info["total_draws"] == 8 * 50
    assert sampler.seeds[0] == 7 and sampler.seeds[1] == batches.batch_seed(7, 1) != 7
    assert info["batch_seeds"] == f"7,{sampler.seeds[1]}"
    assert not info["batches_interrupted"]
    assert list(idata.posterior.chain.values) == list(range(8))
    # the pointwise groups cover the combined draws; observed data is kept once
    assert idata.log_likelihood.sizes["chain"] == 8
    assert idata.sample_stats.sizes["chain"] == 8
    assert idata.observed_data.sizes == {"obs": 3}
    assert idata.posterior.attrs["sampling_seconds"] == 3.0
    assert any("drawing extra batch 1 of at most 3" in line for line in lines)


@pytest.mark.parametrize("failing", [{"r_hat"}, {"divergences"}, {"e_bfmi"}, set()])
def test_rhat_divergence_or_bfmi_failure_adds_no_batch(monkeypatch, failing):
    _, info, sampler, lines = run(monkeypatch, lambda chains: failing | {"ess_bulk"})
    if not failing:  # only the ESS fails: that one does add batches
        assert info["extra_batches"] == 3
        return
    assert info["extra_batches"] == 0 and len(sampler.seeds) == 1 and not lines


def test_batches_stop_at_the_ceiling(monkeypatch):
    _, info, sampler, _ = run(monkeypatch, lambda chains: {"ess_bulk"}, max_extra=2)
    assert info["extra_batches"] == 2 and len(set(sampler.seeds)) == 3
    assert info["total_chains"] == 12


def test_batches_stop_once_rhat_fails_after_a_batch(monkeypatch):
    _, info, _, _ = run(monkeypatch, lambda chains: {"ess_bulk"} if chains < 8 else {"r_hat"})
    assert info["extra_batches"] == 1


def test_no_extra_batches_when_disabled(monkeypatch):
    _, info, sampler, _ = run(monkeypatch, lambda chains: {"ess_bulk"}, max_extra=0)
    assert info["extra_batches"] == 0 and len(sampler.seeds) == 1


def test_interrupted_extra_batch_keeps_the_complete_batches(monkeypatch):
    idata, info, _, lines = run(
        monkeypatch, lambda chains: {"ess_bulk"}, sampler=FakeSampler(interrupt_at=2)
    )
    assert info["batches_interrupted"] == 1
    assert info["extra_batches"] == 1 and idata.posterior.sizes["chain"] == 8
    assert any("interrupted" in line for line in lines)


def test_interrupted_first_batch_propagates(monkeypatch):
    with pytest.raises(KeyboardInterrupt):
        run(monkeypatch, lambda chains: {"ess_bulk"}, sampler=FakeSampler(interrupt_at=0))


def test_only_ess_short():
    assert batches.only_ess_short(checks_table({"ess_bulk", "ess_tail"}))
    assert not batches.only_ess_short(checks_table(set()))
    assert not batches.only_ess_short(checks_table({"ess_bulk", "r_hat"}))


def test_batch_seeds_are_distinct_and_fit_an_int32():
    seeds = [batches.batch_seed(20150501, b) for b in range(5)]
    assert seeds[0] == 20150501 and len(set(seeds)) == 5
    assert all(0 <= s < 2**31 for s in seeds)


def test_report_sentence_only_for_fits_with_extra_batches():
    from analysis.report import extra_batch_sentence

    assert extra_batch_sentence("model2", {"extra_batches": 0}) == ""
    sentence = extra_batch_sentence(
        "model2_slopes",
        {"extra_batches": 2, "chains": 4, "draws": 1000, "total_chains": 12, "total_draws": 12000},
    )
    assert sentence.startswith("model2_slopes: effective sample sizes fell short")
    assert "2 extra batches of 4 chains" in sentence and "12000 draws" in sentence
