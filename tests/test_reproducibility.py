"""The same seed and inputs give identical results, run after run."""

from __future__ import annotations

import arviz as az
import numpy as np
import pandas as pd
import pytest

from analysis.summarize_cli import main as summarize_main
from data_prep.build_cli import main as data_main
from models.fit_cli import main as fit_main

pytestmark = pytest.mark.slow


def _run(root, seed: int = 7) -> None:
    assert data_main(["--out", str(root / "data"), "--n", "600", "--seed", "3"]) == 0
    data = str(root / "data" / "analysis_data.parquet")
    fit_args = ["--data", data, "--spec", "model1", "--out", str(root / "fits"), "--no-progress"]
    assert fit_main([*fit_args, "--draws", "200", "--tune", "200", "--seed", str(seed)]) == 0
    summarize_main(
        [
            "--fits",
            str(root / "fits"),
            "--out",
            str(root),
            "--data",
            data,
            "--accept-convergence-failure",
        ]
    )


def test_two_runs_with_one_seed_are_identical(tmp_path):
    _run(tmp_path / "a")
    _run(tmp_path / "b")
    first = az.from_netcdf(tmp_path / "a" / "fits" / "model1.nc")
    second = az.from_netcdf(tmp_path / "b" / "fits" / "model1.nc")
    for group in (
        "posterior",
        "posterior_predictive",
        "log_likelihood",
        "prior",
        "prior_predictive",
    ):
        for name, values in first[group].data_vars.items():
            np.testing.assert_array_equal(values.to_numpy(), second[group][name].to_numpy())
    for table in ("odds_ratios_model1.csv", "convergence_model1.csv", "table1_table2.csv"):
        pd.testing.assert_frame_equal(
            pd.read_csv(tmp_path / "a" / "tables" / table),
            pd.read_csv(tmp_path / "b" / "tables" / table),
        )
    assert first.posterior.attrs["data_hash"] == second.posterior.attrs["data_hash"]


def test_another_seed_gives_other_draws(tmp_path):
    _run(tmp_path / "a", seed=7)
    _run(tmp_path / "c", seed=8)
    first = az.from_netcdf(tmp_path / "a" / "fits" / "model1.nc").posterior["beta"]
    other = az.from_netcdf(tmp_path / "c" / "fits" / "model1.nc").posterior["beta"]
    assert not np.array_equal(first.to_numpy(), other.to_numpy())
