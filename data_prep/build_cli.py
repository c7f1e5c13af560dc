"""Command line: write the analysis data set and its data dictionary.

``python -m data_prep --out results/data`` generates the embedded default (synthetic) sample;
``--n`` makes a larger one for benchmarks. Writes ``analysis_data.parquet`` (typed),
``data_dictionary.csv`` (and ``.md``) and, for synthetic data, ``synthetic_truth.csv``
(the true province effects of the generating model).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cmds_common.atomic import write_text, write_with
from cmds_common.constants import (
    ANALYSIS_DATA_FILE,
    DATA_DICTIONARY_FILE,
    DATA_DIR,
    DEFAULT_SAMPLE_SIZE,
    DEFAULT_SEED,
)
from cmds_common.markdown import to_markdown
from data_prep.analysis_dataset import data_hash, to_analysis_table, write_analysis_table
from data_prep.synthetic import generate_synthetic
from data_prep.variables import OUTCOME, PROVINCE, data_dictionary


def build_default_data(out_dir: Path, n: int, seed: int) -> Path:
    """Generate, type and write the synthetic analysis data set; return its path."""
    raw, truth = generate_synthetic(n=n, seed=seed)
    table = to_analysis_table(raw)
    path = write_analysis_table(table, out_dir / ANALYSIS_DATA_FILE)
    dictionary = data_dictionary()
    write_with(out_dir / DATA_DICTIONARY_FILE, lambda p: dictionary.to_csv(p, index=False))
    write_text((out_dir / DATA_DICTIONARY_FILE).with_suffix(".md"), to_markdown(dictionary))
    write_with(out_dir / "synthetic_truth.csv", lambda p: truth.to_csv(p, index=False))
    sizes = table[PROVINCE].value_counts()
    print(
        f"synthetic sample: {len(table)} respondents (seed {seed}), "
        f"{table[OUTCOME].mean():.1%} with a health record, "
        f"{(sizes > 0).sum()} provinces of {sizes.min()}-{sizes.max()} respondents; "
        f"data hash {data_hash(table)}"
    )
    print(f"wrote {path} and {out_dir / DATA_DICTIONARY_FILE}")
    return path


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m data_prep", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--n", type=int, default=DEFAULT_SAMPLE_SIZE, help="sample size")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    build_default_data(args.out, args.n, args.seed)
    return 0
