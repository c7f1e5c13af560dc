"""Nothing lost: interrupted fits keep the previous results; unchanged fits are not redone."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import arviz as az
import pytest

from data_prep.build_cli import main as data_main
from models.fit_cache import remove_interrupted_writes
from models.fit_cli import main as fit_main

pytestmark = pytest.mark.slow

QUICK = ["--draws", "150", "--tune", "150", "--no-progress"]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def fitted(tmp_path_factory) -> Path:
    """A results folder with data and a finished model1 fit."""
    root = tmp_path_factory.mktemp("cache")
    assert data_main(["--out", str(root / "data")]) == 0
    args = ["--data", str(root / "data" / "analysis_data.parquet"), "--spec", "model1"]
    assert fit_main([*args, "--out", str(root / "fits"), *QUICK]) == 0
    return root


def _fit_args(root: Path) -> list[str]:
    return [
        "--data",
        str(root / "data" / "analysis_data.parquet"),
        "--spec",
        "model1",
        "--out",
        str(root / "fits"),
    ]


def test_unchanged_fit_is_skipped_changed_settings_refit(fitted, capsys):
    netcdf = fitted / "fits" / "model1.nc"
    before = digest(netcdf)
    assert fit_main([*_fit_args(fitted), *QUICK]) == 0
    assert "up to date" in capsys.readouterr().out
    assert digest(netcdf) == before
    assert fit_main([*_fit_args(fitted), "--draws", "160", "--tune", "150", "--no-progress"]) == 0
    assert "up to date" not in capsys.readouterr().out
    assert az.from_netcdf(netcdf).posterior.sizes["draw"] == 160


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_fit_killed_mid_sampling_keeps_previous_results(fitted, sig):
    fits = fitted / "fits"
    before = {p.name: digest(p) for p in fits.iterdir()}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "models",
            *_fit_args(fitted),
            "--draws",
            "2000000",
            "--tune",
            "300",
            "--no-progress",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as in a terminal: a test run started in the background (CI's among them) has
        # SIGINT ignored, which the fit would inherit and, rightly, keep ignoring
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        for line in process.stdout:  # wait until the fit has started sampling
            if "sampling 4 chains" in line:
                break
        time.sleep(8)  # into the 2,000,000 draws (minutes of sampling)
        assert process.poll() is None, "the fit finished before it could be interrupted"
        process.send_signal(sig)
        _, err = process.communicate(timeout=120)
    finally:  # a fit left sampling would slow every later test
        if process.poll() is None:
            process.kill()
            process.communicate()
    if sig == signal.SIGINT:
        assert process.returncode == 130
        assert "interrupted: the previous results are kept" in err
    else:
        assert process.returncode == -signal.SIGKILL
    assert {p.name: digest(p) for p in fits.iterdir()} == before, "previous results changed"
    assert fit_main([*_fit_args(fitted), "--draws", "170", "--tune", "150", "--no-progress"]) == 0
    assert az.from_netcdf(fits / "model1.nc").posterior.sizes["draw"] == 170


def test_leftover_temporary_files_are_removed(tmp_path):
    (tmp_path / "model1.nc").write_bytes(b"whole")
    leftover = tmp_path / ".model1.abc123.tmp.nc"
    leftover.write_bytes(b"half")
    assert remove_interrupted_writes(tmp_path) == [leftover]
    assert [p.name for p in tmp_path.iterdir()] == ["model1.nc"]


class _FakeSampler:
    """Stands in for nutpie's background sampler: records what was asked of it."""

    def __init__(self, interrupt_in_wait: bool = False):
        self.calls: list[str] = []
        self.interrupt_in_wait = interrupt_in_wait

    def wait(self):
        self.calls.append("wait")
        if self.interrupt_in_wait:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)  # the handler raises KeyboardInterrupt here
        return "whole trace"

    def abort(self):
        self.calls.append("abort")
        return "partial trace"


@pytest.mark.parametrize("when", ["while starting", "while waiting"])
def test_ctrl_c_always_stops_the_sampler(monkeypatch, request, when):
    """A SIGINT while nutpie starts its threads (where nutpie.sample itself would raise outside
    its own try and leave them sampling) or while it samples aborts the sampler, whose partial
    trace is returned; the previous SIGINT handler is back afterwards."""
    from models import nutpie_run

    # as in a terminal (a background job, CI's among them, may start with SIGINT ignored)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    sampler = _FakeSampler(interrupt_in_wait=when == "while waiting")

    def start(model, blocking, **arguments):
        assert blocking is False
        if when == "while starting":
            os.kill(os.getpid(), signal.SIGINT)  # recorded, not raised
        return sampler

    monkeypatch.setattr(nutpie_run.nutpie, "sample", start)
    assert nutpie_run.sample_interruptibly(object(), draws=10) == "partial trace"
    expected = ["abort"] if when == "while starting" else ["wait", "abort"]
    assert sampler.calls == expected
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_an_ignored_sigint_stays_ignored(monkeypatch, request):
    """A fit started with SIGINT ignored (a background job) keeps it ignored while sampling."""
    from models import nutpie_run

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    request.addfinalizer(lambda: signal.signal(signal.SIGINT, previous))
    seen = []

    def start(model, blocking, **arguments):
        seen.append(signal.getsignal(signal.SIGINT))
        return _FakeSampler()

    monkeypatch.setattr(nutpie_run.nutpie, "sample", start)
    assert nutpie_run.sample_interruptibly(object()) == "whole trace"
    assert seen == [signal.SIG_IGN] and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
