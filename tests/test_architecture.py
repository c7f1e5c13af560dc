"""ARCHITECTURE.md lists every module of the pipeline packages, and only modules that exist."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cmds", "cmds_common", "data_prep", "models", "analysis", "devtools")


def _listed_modules() -> set[str]:
    """Every ``package/module.py`` named in the first column of the module table."""
    listed = set()
    for line in (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `"):
            continue
        first_cell = line.split("|")[1]
        names = re.findall(r"`([^`]+\.py)`", first_cell)
        package = None
        for name in names:
            if "/" in name:
                package = name.split("/")[0]
                listed.add(name)
            elif package:  # "`analysis/ppc.py`, `ppc_plots.py`": same package as the first
                listed.add(f"{package}/{name}")
    return listed


def _existing_modules() -> set[str]:
    return {
        f"{package}/{path.name}"
        for package in PACKAGES
        for path in (ROOT / package).glob("*.py")
        if path.name not in ("__init__.py", "__main__.py")
    }


def test_every_listed_module_exists():
    missing = _listed_modules() - _existing_modules()
    assert not missing, f"ARCHITECTURE.md lists modules that do not exist: {sorted(missing)}"


def test_every_module_is_listed():
    unlisted = _existing_modules() - _listed_modules()
    assert not unlisted, f"modules missing from ARCHITECTURE.md: {sorted(unlisted)}"
