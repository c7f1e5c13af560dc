"""Studies as data: every ``studies/*/study.yaml`` loads, and ``STUDY=`` drives the Makefile.

The default study (jing2019) must keep the project's original chain: its study file repeats the
Makefile's defaults, and ``make -n fit`` without ``STUDY`` runs exactly the commands it ran
before studies existed (data with the five specs, one ``python -m models`` per spec).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from cmds_common.spec import load_spec
from cmds_common.study import STUDIES_DIR, StudyError, load_study
from data_prep.study_data import study_codebook, study_flow

ROOT = Path(__file__).resolve().parents[1]
STUDIES = sorted(p.parent.name for p in STUDIES_DIR.glob("*/study.yaml"))
#: Studies run by ``python -m data_prep --study``: a synthetic default and a raw-file path.
STUDY_PIPELINE = [s for s in STUDIES if load_study(s).raw.get("pipeline") == "study"]


def _make_default(name: str) -> str:
    for line in (ROOT / "Makefile").read_text(encoding="utf-8").splitlines():
        if line.startswith(f"{name} ?="):
            return line.split("=", 1)[1].strip()
    raise AssertionError(f"Makefile has no default for {name}")


@pytest.mark.parametrize("name", STUDIES)
def test_every_study_loads_and_names_existing_files(name):
    study = load_study(name)
    assert study.name == name
    for key in ("published", "codebook", "synthetic"):
        path = study.path(key)
        assert path is None or path.exists(), f"{name}: {key} -> {path}"
    for path in study.spec_paths:
        assert load_spec(path).name == path.stem


@pytest.mark.parametrize("name", STUDY_PIPELINE)
def test_every_study_reads_a_raw_file_through_its_codebook_and_flow(name):
    study = load_study(name)
    flow = study_flow(study, study.path("codebook"))
    assert flow is not None, f"{name}: no 'flow:' for a raw file"
    assert flow[0].action == "count" and flow[-1].action == "count"
    assert any(step.action == "drop_incomplete" for step in flow)
    declared = study_codebook(study, study.path("codebook")).declarations
    assert set(study.required_columns()) <= set(declared)


def test_default_study_file_repeats_the_makefile_defaults():
    study = load_study("jing2019")
    assert _make_default("STUDY") == "jing2019"
    assert study.raw["models"] == _make_default("MODELS").split()
    assert study.raw["compare"] == _make_default("COMPARE").split()
    assert study.raw["main_model"] == _make_default("MAIN_MODEL")
    assert study.raw["specs_dir"] == _make_default("SPECS_DIR")
    assert str(study.raw["n"]) in (ROOT / "Makefile").read_text(encoding="utf-8")


def test_unknown_study_is_refused_with_the_known_ones():
    with pytest.raises(StudyError, match="jing2019"):
        load_study("no_such_study")


def _clean_make_env() -> dict[str, str]:
    """The environment without make's own flags or any variable the Makefile reads.

    Under ``make test-fast RESULTS=... VENV=...`` (as CI's second-Python run calls it) those
    variables reach this process and would change what ``make -n fit`` prints.
    """
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    names = set(re.findall(r"^([A-Z][A-Z0-9_]*)\s*\??=", makefile, flags=re.M))
    names |= {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "GNUMAKEFLAGS"}
    return {key: value for key, value in os.environ.items() if key not in names}


def _dry_run_fit(*variables: str) -> str:
    """What ``make -n fit VARIABLES PYTHON=python`` would run, in a clean environment."""
    return subprocess.run(
        ["make", "-n", "fit", *variables, "PYTHON=python"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=_clean_make_env(),
    ).stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_fit_without_study_runs_the_original_chain():
    dry = _dry_run_fit()
    specs = " ".join(f"--spec models/specs/{m}.yaml" for m in _make_default("MODELS").split())
    assert re.search(
        r"python -m data_prep --out results/data --seed 20150501 --n 3158\s+" + re.escape(specs),
        dry,
    )
    assert "analysis study" not in dry and "--study" not in dry


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_fit_study_runs_the_study_into_its_own_results():
    dry = _dry_run_fit("STUDY=ma2023")
    assert "python -m data_prep --out results/ma2023/data --seed 20150501" in dry
    assert "--study studies/ma2023" in dry and "--spec" not in dry
    assert "python -m analysis study --study studies/ma2023" in dry
