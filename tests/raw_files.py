"""Shared steps of the real-file tests: a raw 2017-style file through a study's codebook.

The tests build a raw file from a study's synthetic sample (raw item names ``r_<item>``),
fill the study codebook's ``FILL_IN`` lines with those names and run ``python -m data_prep
--study`` on it, as a user holding the real file would.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from cmds_common.study import Study
from data_prep.build_cli import main as data_prep_main


def filled_codebook(text: str, raw: pd.DataFrame) -> str:
    """The 2017 codebook with ``r_<item>`` in place of FILL_IN for every item the file has.

    Raises
    ------
    AssertionError
        When an ``r_<item>`` column has no ``FILL_IN`` line of its own in the codebook.
    """
    for column in raw.columns:
        if column.startswith("r_"):
            item = column[2:]
            text, count = re.subn(rf"(\n  {item}:\n    raw: )FILL_IN", rf"\g<1>{column}", text)
            assert count == 1, item
    return text


def ingest_raw(study: Study, raw: pd.DataFrame, rows: pd.DataFrame, folder: Path) -> int:
    """Write ``rows`` as ``cmds2017.csv`` with the filled codebook; run the study's data step.

    ``raw`` (the file's respondents the flow keeps) names the items to fill; ``rows`` is the
    whole file (``raw`` plus respondents the flow must drop). The data go to ``folder/data``.
    Returns the data step's exit status.
    """
    rows.to_csv(folder / "cmds2017.csv", index=False)
    codebook = study.path("codebook").read_text(encoding="utf-8")
    (folder / "codebook.yaml").write_text(filled_codebook(codebook, raw), encoding="utf-8")
    return data_prep_main(
        [
            "--study",
            study.name,
            "--input",
            str(folder / "cmds2017.csv"),
            "--codebook",
            str(folder / "codebook.yaml"),
            "--out",
            str(folder / "data"),
        ]
    )
