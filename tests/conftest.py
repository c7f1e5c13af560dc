from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from cmds_common import runtime

runtime.configure()  # before any test module imports PyTensor or ArviZ

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from data_prep.analysis_dataset import to_analysis_table  # noqa: E402
from data_prep.synthetic import generate_synthetic  # noqa: E402
from data_prep.variables import synthetic_declarations  # noqa: E402


@pytest.fixture(scope="session")
def default_sample() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The embedded default data (typed, as ``make data`` writes it) and its province truth."""
    raw, truth = generate_synthetic()
    return to_analysis_table(raw, synthetic_declarations()), truth


@pytest.fixture(scope="session")
def default_table(default_sample) -> pd.DataFrame:
    return default_sample[0]


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]

#: Opens every <details> (collapsed tables are wide too) and records by how many pixels the
#: page is wider than the window.
_OVERFLOW_SCRIPT = """<script>
window.addEventListener('load', function () {
  document.querySelectorAll('details').forEach(function (d) { d.open = true; });
  var root = document.documentElement;
  document.body.setAttribute('data-overflow-px', String(root.scrollWidth - root.clientWidth));
});
</script>"""


@pytest.fixture(scope="session")
def chromium() -> list[str]:
    """Headless Chromium's command, when installed; tests never install software (CI does)."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip(
            "Chromium is not installed: the report rendering test is skipped "
            "(Debian/Ubuntu: apt-get install chromium)"
        )
    return [found, *CHROMIUM_FLAGS]


def _dump_dom(chromium: list[str], page: Path, profile: Path, width: int) -> str:
    """The DOM of ``page`` after its scripts ran, loaded at ``width`` px in headless Chromium."""
    return subprocess.run(
        [
            *chromium,
            f"--user-data-dir={profile}",
            f"--window-size={width},2000",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout


@pytest.fixture(scope="session")
def rendered_dom(chromium) -> Callable[[Path, int], str]:
    """Return a function: a page's DOM after its scripts ran (window 1280 px wide by default)."""

    def render(page: Path, width: int = 1280) -> str:
        with tempfile.TemporaryDirectory() as folder:
            return _dump_dom(chromium, page, Path(folder) / "profile", width)

    return render


@pytest.fixture(scope="session")
def page_overflow(chromium) -> Callable[[Path, int], int]:
    """Return a function: pixels by which a page, every ``<details>`` open, overflows a window.

    The page is copied with a measuring script added and loaded in headless Chromium at the
    given window width (1280 px by default); 0 means no horizontal scrolling.
    """

    def measure(page: Path, width: int = 1280) -> int:
        text = page.read_text(encoding="utf-8").replace("</body>", _OVERFLOW_SCRIPT + "</body>")
        with tempfile.TemporaryDirectory() as folder:
            copy = Path(folder) / "page.html"
            copy.write_text(text, encoding="utf-8")
            dom = _dump_dom(chromium, copy, Path(folder) / "profile", width)
        found = re.search(r'data-overflow-px="(-?\d+)"', dom)
        assert found, "the measuring script did not run"
        return int(found.group(1))

    return measure
