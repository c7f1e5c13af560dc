"""Command line: write the analysis data set, its data dictionary and the inclusion flow.

``python -m data_prep`` generates the embedded default (synthetic) sample; ``--n`` makes a larger
one for benchmarks. ``--input FILE`` uses your data instead:

* ``.sav`` / ``.dta``: the raw survey file, decoded through a codebook (``--codebook``; the
  shipped 2015 CMDS codebook by default) and put through the paper's inclusion flow;
* ``.csv`` / ``.parquet``: an already-coded table (schema in ``data_prep/coded_schema.py``), or
  a raw export when ``--codebook`` is given.

Both input paths end in the same checks (:mod:`data_prep.validation`) and in a design check of
every requested spec (:mod:`data_prep.design_check`); only then is anything written.

Writes ``analysis_data.parquet``, ``data_dictionary.csv``/``.md``, ``inclusion_flow.csv``/``.md``,
``data_warnings.csv`` (legal but risky features: see :mod:`data_prep.validation`),
``weight_summary.csv`` (Kish effective sample size, max/median weight), ``source.txt`` and, for
synthetic data, ``synthetic_truth.csv`` (the true province effects), ``synthetic_city_truth.csv``
(the true city effects) and ``synthetic_coefficients.csv`` (the 2017-style columns' generating
parameters). Nothing is written when the input or a spec's design is rejected.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from cmds_common.analysis_table import data_hash, write_analysis_table
from cmds_common.atomic import write_text, write_with
from cmds_common.constants import (
    ANALYSIS_DATA_FILE,
    DATA_DICTIONARY_FILE,
    DATA_DIR,
    DEFAULT_SAMPLE_SIZE,
    DEFAULT_SEED,
)
from cmds_common.markdown import to_markdown
from cmds_common.spec import ModelSpec, SpecError, load_spec
from cmds_common.survey_weights import describe, weight_summary
from data_prep.analysis_dataset import to_analysis_table
from data_prep.codebook import CodebookError, load_codebook
from data_prep.coded_schema import CodedDataError, prepare_coded_table
from data_prep.design_check import design_findings
from data_prep.ingest import IngestError, flow_table, ingest_survey
from data_prep.readers import InputFileError, read_table
from data_prep.synthetic import POPULATIONS, generate_synthetic_sample
from data_prep.validation import (
    DataValidationError,
    Finding,
    check_table,
    default_lines,
    duplicate_rows,
    raise_for_errors,
    warnings_frame,
)
from data_prep.variables import OUTCOME, PROVINCE, WEIGHT, data_dictionary

FLOW_FILE = "inclusion_flow.csv"


def required_columns(specs: list[ModelSpec | str]) -> list[str]:
    """Analysis columns the model specs (or shipped specs named) read."""
    columns: list[str] = [PROVINCE, OUTCOME]
    for spec in specs:
        columns += (spec if isinstance(spec, ModelSpec) else load_spec(spec)).used_columns()
    return list(dict.fromkeys(columns))


def _with_weight_exclusion(flow: pd.DataFrame, dropped: int, n: int) -> pd.DataFrame:
    """Add the weight-0 exclusion to a flow, before its final 'analysed' step."""
    steps = list(flow[["step", "n", "published_n"]].itertuples(index=False, name=None))
    steps = [(s, int(k), None if pd.isna(p) else int(p)) for s, k, p in steps]
    final = steps.pop() if steps and steps[-1][0] == "analysed" else None
    steps.append(
        ("excluded: weight 0 (outside the population the weights describe)", dropped, None)
    )
    steps.append(("analysed", n, final[2] if final else None))
    return flow_table(steps)


def load_input(
    path: Path, codebook: Path | None, encoding: str | None, specs: list[ModelSpec]
) -> tuple[pd.DataFrame, pd.DataFrame, list[Finding]]:
    """Read the user's file into the analysis table, its inclusion flow and the findings.

    Both paths (raw file through a codebook, coded table) end in the same validation contract
    and in the design check of every spec. Errors raise :class:`DataValidationError`.
    """
    required = required_columns(specs)
    raw = read_table(path, encoding=encoding)
    source = str(path)
    if path.suffix.lower() in (".sav", ".dta") or codebook is not None:
        result = ingest_survey(raw, load_codebook(codebook), required)
        table, flow, lines, findings = result.table, result.flow, result.lines, result.findings
    else:
        table = prepare_coded_table(raw, required)
        flow = flow_table([("rows in the coded table", len(table), None)])
        lines, findings = default_lines(len(table)), []
    findings = duplicate_rows(raw.data, source) + findings
    before = len(table)
    table, table_findings = check_table(table, lines, source)
    findings += table_findings
    if len(table) < before:
        flow = _with_weight_exclusion(flow, before - len(table), len(table))
    for spec in specs:
        findings += design_findings(table, spec)
    raise_for_errors(findings, source)
    return table, flow, findings


def write_outputs(
    table: pd.DataFrame,
    flow: pd.DataFrame,
    out_dir: Path,
    source: str,
    findings: list[Finding] | None = None,
) -> Path:
    """Write the analysis table, dictionary, flow, warnings and source; print a summary."""
    if findings is None:  # the synthetic sample: the same table checks, nothing dropped
        _, findings = check_table(table, default_lines(len(table)), source)
    warnings = warnings_frame(findings)
    path = write_analysis_table(table, out_dir / ANALYSIS_DATA_FILE)
    write_with(out_dir / "data_warnings.csv", lambda p: warnings.to_csv(p, index=False))
    write_text(out_dir / "source.txt", source + "\n")
    if WEIGHT in table:
        weights = pd.DataFrame([weight_summary(table[WEIGHT].to_numpy(float))])
        write_with(out_dir / "weight_summary.csv", lambda p: weights.to_csv(p, index=False))
        print(f"survey weights: {describe(weights.iloc[0].to_dict())}")
    for finding in findings:
        print(f"{finding.severity}: {finding}")
    dictionary = data_dictionary()
    write_with(out_dir / DATA_DICTIONARY_FILE, lambda p: dictionary.to_csv(p, index=False))
    write_text((out_dir / DATA_DICTIONARY_FILE).with_suffix(".md"), to_markdown(dictionary))
    write_with(out_dir / FLOW_FILE, lambda p: flow.to_csv(p, index=False))
    write_text(
        (out_dir / FLOW_FILE).with_suffix(".md"),
        "# Inclusion flow\n\n" + to_markdown(flow, float_format="{:.0f}"),
    )
    print("inclusion flow:")
    print(flow.to_string(index=False, na_rep=""))
    sizes = table[PROVINCE].value_counts()
    print(
        f"analysis data: {len(table)} respondents, {table[OUTCOME].mean():.1%} with a health "
        f"record, {(sizes > 0).sum()} provinces of {sizes[sizes > 0].min()}-{sizes.max()} "
        f"respondents; data hash {data_hash(table)}"
    )
    print(f"wrote {path}, {out_dir / DATA_DICTIONARY_FILE} and {out_dir / FLOW_FILE}")
    return path


def build_default_data(out_dir: Path, n: int, seed: int, population: str = "aged_60_plus") -> Path:
    """Generate, type and write the synthetic analysis data set; return its path."""
    sample = generate_synthetic_sample(n=n, seed=seed, population=population)
    table = to_analysis_table(sample.data)
    calibrated = population == "aged_60_plus"
    label = "calibrated to the analysed sample" if calibrated else population
    published_n = 3158 if calibrated else None
    flow = flow_table([(f"synthetic sample (seed {seed}), {label}", n, published_n)])
    source = f"synthetic sample, n={n}, seed={seed}"
    if population != "aged_60_plus":
        source += f", population={population}"
    path = write_outputs(table, flow, out_dir, source)
    truths = {
        "synthetic_truth.csv": sample.province_truth,
        "synthetic_city_truth.csv": sample.city_truth,
        "synthetic_coefficients.csv": sample.coefficient_truth,
    }
    for name, truth in truths.items():
        write_with(out_dir / name, lambda p, t=truth: t.to_csv(p, index=False))
    return path


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m data_prep", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    parser.add_argument("--input", type=Path, help="your .sav, .dta, .csv or .parquet file")
    parser.add_argument("--codebook", type=Path, help="codebook YAML for a raw survey file")
    parser.add_argument("--encoding", help="text encoding of the input (e.g. gb18030)")
    parser.add_argument(
        "--spec",
        action="append",
        help="models the data must serve (default: model1 and model2); repeatable",
    )
    parser.add_argument("--n", type=int, default=DEFAULT_SAMPLE_SIZE, help="synthetic sample size")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--population",
        choices=sorted(POPULATIONS),
        default="aged_60_plus",
        help="synthetic data: the paper's 60+ sample, or all ages 15+ (whole-wave sizes)",
    )
    args = parser.parse_args(argv)
    if args.input is None:
        build_default_data(args.out, args.n, args.seed, args.population)
        return 0
    try:
        specs = [load_spec(name) for name in args.spec or ["model1", "model2"]]
        table, flow, findings = load_input(args.input, args.codebook, args.encoding, specs)
    except (
        InputFileError,
        CodebookError,
        IngestError,
        CodedDataError,
        DataValidationError,
        SpecError,
    ) as err:
        print(f"error: {err}", file=sys.stderr)
        print(f"nothing was written to {args.out}", file=sys.stderr)
        return 2
    source = f"{args.input}" + (f" read through codebook {args.codebook}" if args.codebook else "")
    write_outputs(table, flow, args.out, source, findings)
    return 0
