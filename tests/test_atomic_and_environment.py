"""Atomic writes, and agreement of environment.yml with pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

from cmds_common.atomic import write_text, write_with

ROOT = Path(__file__).resolve().parents[1]


def test_write_replaces_whole_file(tmp_path):
    target = tmp_path / "sub" / "table.csv"
    write_text(target, "a,b\n1,2\n")
    write_text(target, "a,b\n3,4\n")
    assert target.read_text() == "a,b\n3,4\n"
    assert [p.name for p in target.parent.iterdir()] == ["table.csv"]
    assert target.stat().st_mode & 0o044  # readable by others, unlike mkstemp's default


def test_failed_write_keeps_previous_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "table.csv"
    write_text(target, "old\n")

    def crash(path: Path) -> None:
        path.write_text("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        write_with(target, crash)
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def _name_and_spec(requirement: str) -> tuple[str, str]:
    match = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", requirement.strip())
    return match.group(1).lower(), match.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_side = dict(
        _name_and_spec(r)
        for r in pyproject["dependencies"]
        + pyproject["optional-dependencies"]["dev"]
        + pyproject["optional-dependencies"]["jax"]
    )
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    conda_side = dict(_name_and_spec(d) for d in conda if isinstance(d, str))
    for name in ("python", "pip"):  # conda's own entries, not packages of pyproject
        conda_side.pop(name, None)
    # conda writes an exact pin as "=5.28.*" where pip writes "==5.28.*"
    conda_side = {
        k: v.replace("=", "==", 1) if re.match(r"^=[^=]", v) else v for k, v in conda_side.items()
    }
    assert conda_side == pip_side


def test_markdown_escapes_pipes_and_formats_numbers():
    import pandas as pd

    from cmds_common.markdown import to_markdown

    text = to_markdown(pd.DataFrame({"level": ["a|b", None], "or": [1.234, float("nan")]}))
    lines = text.splitlines()
    assert lines[0] == "| level | or |"
    assert lines[2] == "| a\\|b | 1.23 |"
    assert lines[3] == "|  |  |"


def test_identical_analysis_table_is_not_rewritten(tmp_path, default_table):
    import os

    from cmds_common.analysis_table import read_analysis_table, write_analysis_table

    path = tmp_path / "analysis_data.parquet"
    write_analysis_table(default_table, path)
    os.utime(path, (1_000_000, 1_000_000))
    write_analysis_table(default_table, path)
    assert path.stat().st_mtime == 1_000_000  # same content: left alone
    changed = default_table.assign(weight=default_table["weight"] * 2)
    write_analysis_table(changed, path)
    assert path.stat().st_mtime > 1_000_000
    assert (read_analysis_table(path)["weight"] == changed["weight"]).all()
