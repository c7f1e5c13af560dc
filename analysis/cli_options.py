"""Options shared by the ``python -m analysis`` sub-commands, defined once."""

from __future__ import annotations

import argparse
from pathlib import Path

from cmds_common.constants import ANALYSIS_DATA_FILE, DATA_DIR, FITS_DIR, RESULTS_DIR


def add_fits(parser: argparse.ArgumentParser) -> None:
    """Add ``--fits``: the folder of saved fits (``<model>.nc``)."""
    parser.add_argument(
        "--fits", type=Path, default=FITS_DIR, help="folder of the saved fits, <model>.nc"
    )


def add_data(parser: argparse.ArgumentParser, beside_fits: bool = False) -> None:
    """Add ``--data``: the analysis data set (Parquet) the fits were made from.

    ``beside_fits``: default to ``<fits>/../data/analysis_data.parquet`` instead of the fixed
    results path.
    """
    if beside_fits:
        parser.add_argument(
            "--data",
            type=Path,
            help="analysis data set (default: data/analysis_data.parquet beside --fits)",
        )
    else:
        parser.add_argument(
            "--data",
            type=Path,
            default=DATA_DIR / ANALYSIS_DATA_FILE,
            help="analysis data set the fits were made from",
        )


def add_out(parser: argparse.ArgumentParser) -> None:
    """Add ``--out``: the results folder that tables and figures go under."""
    parser.add_argument(
        "--out", type=Path, default=RESULTS_DIR, help="results folder (tables/, figures/ under it)"
    )


def add_models(
    parser: argparse.ArgumentParser, default: list[str] | None = None, required: bool = False
) -> None:
    """Add ``--models``: which fits to use (by model name)."""
    parser.add_argument(
        "--models",
        nargs="+" if required else "*",
        default=default,
        help="model names" if default else "model names (default: every fit found)",
    )


def add_lang(parser: argparse.ArgumentParser) -> None:
    """Add ``--lang``: the language of variable and level labels (``en`` or ``zh``)."""
    parser.add_argument(
        "--lang",
        choices=("en", "zh"),
        default=None,
        help="labels in English or Chinese (default: zh when the LANG environment variable "
        "starts with zh, else en)",
    )
