"""The convergence gate names failures and sets the exit status."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import yaml

from analysis.convergence import convergence_checks, failure_messages
from analysis.summarize_cli import CONVERGENCE_FAILED
from analysis.summarize_cli import main as summarize_main
from cmds_common.spec import load_spec, spec_to_yaml


def _no_data(tmp_path) -> list[str]:
    """``--data`` at a file that does not exist: the fake fits have no analysis data, and the
    default (``results/data/...``) would be a real one after ``make fit`` in the working tree."""
    return ["--data", str(tmp_path / "no_analysis_data.parquet")]


def _fake_fit(tmp_path, stuck: bool):
    rng = np.random.default_rng(0)
    chains, draws, terms = 4, 500, ["hukou_urban", "local_friends_ge3"]
    beta = rng.normal(0, 0.1, (chains, draws, 2))
    sigma = np.abs(rng.normal(0.5, 0.05, (chains, draws)))
    if stuck:
        beta[0] += 1.0  # one chain stuck elsewhere: R-hat far above 1.01
    diverging = np.zeros((chains, draws), bool)
    diverging[1, :3] = stuck
    idata = az.from_dict(
        {
            "posterior": {
                "intercept": rng.normal(0, 0.1, (chains, draws)),
                "beta": beta,
                "province_sigma": sigma,
                "province_effect": rng.normal(0, 0.5, (chains, draws, 3)),
            },
            "sample_stats": {"diverging": diverging},
        },
        coords={"term": terms, "province": ["A", "B", "C"]},
        dims={"beta": ["term"], "province_effect": ["province"]},
    )
    idata.posterior.attrs.update(
        {
            "model_name": "fake",
            "model_label": "fake",
            "formula": "health_record ~ hukou + local_friends + (1 | province)",
            "spec_yaml": spec_to_yaml(load_spec("model1")).replace(
                "published_model: 1", "published_model: null"
            ),
            "data_hash": "0" * 16,
            "sampler": "test",
            "chains": chains,
            "draws": draws,
            "seed": 1,
            "n_obs": 100,
        }
    )
    fits = tmp_path / "fits"
    fits.mkdir()
    idata.to_netcdf(str(fits / "fake.nc"))
    pd.DataFrame(
        {
            "term": terms,
            "odds_ratio": [1.1, 1.5],
            "ci_low": [0.9, 1.2],
            "ci_high": [1.3, 1.9],
            "p_value": [0.3, 0.01],
        }
    ).to_csv(fits / "fake_frequentist.csv", index=False)
    return idata, fits


def test_checks_name_the_failing_parameters(tmp_path):
    idata, _ = _fake_fit(tmp_path, stuck=True)
    checks = convergence_checks(idata, ["intercept", "beta", "province_sigma"])
    messages = failure_messages(checks)
    assert any(m.startswith("R-hat of beta fails (<= 1.01) for 2 of 2 elements") for m in messages)
    assert any("3 divergent transitions" in m for m in messages)
    assert not any("province_sigma" in m for m in messages)


def test_failed_fit_exits_nonzero_unless_accepted(tmp_path, capsys):
    _, fits = _fake_fit(tmp_path, stuck=True)
    code = summarize_main(["--fits", str(fits), "--out", str(tmp_path), *_no_data(tmp_path)])
    assert code == CONVERGENCE_FAILED
    assert (
        "R-hat of beta fails (<= 1.01) for 2 of 2 elements; worst beta[" in capsys.readouterr().err
    )
    # results are still written, so nothing is lost
    assert (tmp_path / "tables" / "odds_ratios_fake.csv").exists()
    assert (
        summarize_main(
            [
                "--fits",
                str(fits),
                "--out",
                str(tmp_path),
                *_no_data(tmp_path),
                "--accept-convergence-failure",
            ]
        )
        == 0
    )


def test_single_element_failures_are_named_individually():
    checks = pd.DataFrame(
        [
            ("r_hat", "beta[hukou_urban]", 1.03, 1.01, False),
            ("r_hat", "beta[local_friends_ge3]", 1.001, 1.01, True),
            ("ess_bulk", "province_sigma", 250.0, 400.0, False),
            ("divergences", "all", 0, 0, True),
        ],
        columns=["check", "parameter", "value", "threshold", "passed"],
    )
    assert failure_messages(checks) == [
        "R-hat of beta[hukou_urban] is 1.030 (must be <= 1.01)",
        "bulk ESS of province_sigma is 250 (must be >= 400)",
    ]


def test_good_fit_passes(tmp_path):
    idata, fits = _fake_fit(tmp_path, stuck=False)
    assert (
        failure_messages(convergence_checks(idata, ["intercept", "beta", "province_sigma"])) == []
    )
    assert summarize_main(["--fits", str(fits), "--out", str(tmp_path), *_no_data(tmp_path)]) == 0
    spec = yaml.safe_load(idata.posterior.attrs["spec_yaml"])
    assert spec["published_model"] is None


def test_energy_random_walk_fails_e_bfmi_and_tail_ess_is_checked(tmp_path):
    idata, _ = _fake_fit(tmp_path, stuck=False)
    rng = np.random.default_rng(4)
    energy = rng.normal(size=(4, 500))
    energy[2] = np.cumsum(energy[2])  # sticky energy: E-BFMI far below 0.3
    idata["sample_stats"] = idata.sample_stats.to_dataset().assign(
        energy=(("chain", "draw"), energy)
    )
    checks = convergence_checks(idata, ["intercept", "beta", "province_sigma"])
    bfmi = checks.query("check == 'e_bfmi'").set_index("parameter")
    assert len(bfmi) == 4 and not bfmi.loc["chain 2", "passed"]
    assert bfmi.drop("chain 2")["value"].between(1.5, 2.5).all()  # white noise: about 2
    assert (checks["check"] == "ess_tail").sum() == (checks["check"] == "ess_bulk").sum()
    assert any(m.startswith("E-BFMI of chain 2 is") for m in failure_messages(checks))


def test_failure_of_a_fit_on_degenerate_weights_blames_the_weights(tmp_path, capsys):
    """Field case 4: more draws cannot mend a likelihood carried by one respondent; say so."""
    idata, fits = _fake_fit(tmp_path, stuck=True)
    spec_yaml = spec_to_yaml(load_spec("model2_weighted"))
    idata.posterior.attrs["spec_yaml"] = spec_yaml
    (fits / "fake.nc").unlink()
    idata.to_netcdf(str(fits / "fake.nc"))
    frequentist = pd.read_csv(fits / "fake_frequentist.csv").assign(
        n_obs=632, kish_n_eff=1.0, max_median_ratio=1e5, weights_unreliable=True
    )
    frequentist.to_csv(fits / "fake_frequentist.csv", index=False)
    assert (
        summarize_main(["--fits", str(fits), "--out", str(tmp_path), *_no_data(tmp_path)])
        == CONVERGENCE_FAILED
    )
    err = capsys.readouterr().err
    assert "note [fake]: this fit puts very unequal survey weights into its likelihood" in err
    error = next(line for line in err.splitlines() if line.startswith("error:"))
    assert "more draws" not in error and "Check the weights or leave the model out" in error


def test_the_pcv_reference_is_checked_by_the_effects_step(tmp_path, capsys):
    """The empty model is not among summarize's models: effects applies the gate's checks to it,
    writes them as summarize would, and says when its measures cannot be trusted."""
    from types import SimpleNamespace

    from analysis.effects_cli import check_pcv_references

    empty = load_spec("model0")
    for stuck in (False, True):
        out = tmp_path / f"stuck_{stuck}"
        out.mkdir()
        idata, _ = _fake_fit(out, stuck=stuck)
        failed = check_pcv_references({"model0": SimpleNamespace(idata=idata, spec=empty)}, out)
        checks = pd.read_csv(out / "tables" / "convergence_model0.csv")
        assert set(checks["model"]) == {"model0"} and "divergences" in set(checks["check"])
        captured = capsys.readouterr()
        if stuck:
            assert "3 divergent transitions (expected 0)" in failed["model0"]
            assert "cannot be trusted" in captured.err
        else:
            assert failed == {} and "[model0] convergence: passed" in captured.out
