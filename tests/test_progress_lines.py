"""Progress lines for fits logged to a file: their text, their rate, and when they appear."""

from __future__ import annotations

import io
from types import SimpleNamespace

from models.progress_lines import ProgressLines, progress_callback
from models.sampling import SamplerSettings


def _chain(done: int, total: int, divergences: int = 0, tuning: bool = False):
    return SimpleNamespace(
        finished_draws=done, total_draws=total, divergences=divergences, tuning=tuning
    )


def test_line_sums_the_chains():
    lines = ProgressLines("[m] ", interval=0.0, stream=io.StringIO())
    text = lines.line([_chain(500, 1500, 1, True), _chain(1000, 1500, 2)])
    assert text.startswith(
        "[m] 50% of draws (2 chains: 1,500 of 3,000 incl. warm-up, 1 of 2 still warming up)"
    )
    assert "3 divergences" in text


def test_no_warm_up_words_once_every_chain_draws():
    lines = ProgressLines("[m] ", interval=0.0, stream=io.StringIO())
    assert "warming up" not in lines.line([_chain(900, 1500), _chain(1000, 1500)])


def test_lines_are_throttled():
    stream = io.StringIO()
    lines = ProgressLines("", interval=3600.0, stream=stream)
    for _ in range(5):
        lines([_chain(1, 10)])
    assert stream.getvalue() == ""  # nothing before the first interval has passed
    quick = ProgressLines("", interval=0.0, stream=stream)
    quick([_chain(5, 10)])
    quick([_chain(10, 10)])
    assert stream.getvalue().count("\n") == 2


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_only_when_output_is_not_a_terminal(monkeypatch):
    assert progress_callback("", _Terminal()) is None
    assert isinstance(progress_callback("", io.StringIO()), ProgressLines)
    monkeypatch.setattr("sys.stdout", io.StringIO())
    assert "progress_callback" in SamplerSettings(progress=True).nutpie_arguments("[m] ")
    assert "progress_callback" not in SamplerSettings(progress=False).nutpie_arguments()
