"""Command line: write the analysis data set, its data dictionary and the inclusion flow.

``python -m data_prep`` generates the embedded default (synthetic) sample; ``--n`` makes a larger
one for benchmarks. ``--input FILE`` uses your data instead:

* ``.sav`` / ``.dta``: the raw survey file, decoded through a codebook (``--codebook``; the
  shipped 2015 CMDS codebook by default) and put through the paper's inclusion flow;
* ``.csv`` / ``.parquet``: an already-coded table (schema in ``data_prep/coded_schema.py``; any
  other columns declared in ``--dictionary DICT.yaml``), or a raw export when ``--codebook`` is
  given.

``python -m data_prep describe FILE`` writes a starter dictionary (``FILE`` stem +
``_dictionary.yaml``, or ``--out``) for the user to edit and pass as ``--dictionary``.

Both input paths end in the same checks (:mod:`data_prep.validation`) and in a design check of
every requested spec (:mod:`data_prep.design_check`); only then is anything written.

Writes ``analysis_data.parquet``, ``data_dictionary.csv``/``.md``, ``declarations.yaml``,
``inclusion_flow.csv``/``.md``, ``data_warnings.csv`` (legal but risky features: see
:mod:`data_prep.validation`), ``weight_summary.csv`` (Kish effective sample size, max/median
weight), ``source.txt`` (with the survey wave) and, for synthetic data, ``synthetic_truth.csv``
(the true province effects),
``synthetic_city_truth.csv`` (the true city effects) and ``synthetic_coefficients.csv`` (the
2017-style columns' generating parameters). Nothing is written when the input or a spec's design
is rejected.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from cmds_common.analysis_table import data_hash, write_analysis_table
from cmds_common.atomic import write_text, write_with
from cmds_common.constants import (
    ANALYSIS_DATA_FILE,
    DATA_DICTIONARY_FILE,
    DATA_DIR,
    DECLARATIONS_FILE,
    DEFAULT_SAMPLE_SIZE,
    DEFAULT_SEED,
)
from cmds_common.declarations import (
    DeclarationError,
    data_dictionary,
    dump_declarations,
    infer_declarations,
    load_declarations,
)
from cmds_common.help_format import DefaultsHelpFormatter
from cmds_common.markdown import to_markdown
from cmds_common.spec import ModelSpec, SpecError, load_spec
from cmds_common.survey_weights import describe, weight_summary
from data_prep.analysis_dataset import to_analysis_table
from data_prep.codebook import CodebookError, load_codebook, with_variables
from data_prep.coded_schema import CodedDataError, coded_declarations, prepare_coded_table
from data_prep.design_check import design_findings
from data_prep.flow import FlowStep, flow_table
from data_prep.ingest import IngestError, ingest_survey, raw_columns
from data_prep.readers import InputFileError, read_table
from data_prep.synthetic import POPULATIONS, generate_synthetic_sample
from data_prep.synthetic_waves import generate_pooled_waves, wave_declarations
from data_prep.validation import (
    WARNING,
    DataValidationError,
    Finding,
    check_table,
    default_lines,
    duplicate_rows,
    raise_for_errors,
    warnings_frame,
)
from data_prep.variables import (
    OUTCOME,
    PROVINCE,
    WEIGHT,
    shipped_declarations,
    synthetic_declarations,
)

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


#: What a user's input (file, codebook, dictionary, spec) can raise: each is reported in one
#: message and nothing is written.
INPUT_ERRORS = (
    InputFileError,
    DeclarationError,
    CodebookError,
    IngestError,
    CodedDataError,
    DataValidationError,
    SpecError,
)


@dataclass
class LoadedInput:
    """The analysis table from the user's file, with what describes it."""

    table: pd.DataFrame
    flow: pd.DataFrame
    findings: list[Finding]
    declarations: dict = field(default_factory=dict)
    wave: int | None = None


def load_input(
    path: Path,
    codebook: Path | None,
    encoding: str | None,
    specs: list[ModelSpec],
    dictionary: Path | None = None,
    flow: list[FlowStep] | None = None,
    columns: list[str] | None = None,
    variables: Path | None = None,
) -> LoadedInput:
    """Read the user's file into the analysis table, its inclusion flow and the findings.

    Both paths (raw file through a codebook, coded table with an optional dictionary) end in
    the same validation contract and in the design check of every spec. Errors raise
    :class:`DataValidationError` (or the error of the step that failed). A study gives its own
    inclusion ``flow`` (replacing the codebook's), the ``columns`` it needs (instead of the
    specs' columns) and, in ``variables``, a file whose ``variables:`` are added to the
    codebook's (:func:`data_prep.codebook.with_variables`; raw files only).
    """
    required = columns if columns is not None else required_columns(specs)
    source = str(path)
    declared = load_declarations(dictionary) if dictionary is not None else None
    wave = None
    if path.suffix.lower() in (".sav", ".dta") or codebook is not None:
        book = load_codebook(codebook)
        book = with_variables(book, variables) if variables is not None else book
        book = replace(book, flow=flow) if flow is not None else book
        # only the codebook's columns, in chunks: a whole raw wave need not fit in memory
        raw = read_table(path, encoding=encoding, columns=raw_columns(book))
        labelled = path.suffix.lower() in (".sav", ".dta")  # CSV files are read whole
        compared = "(codebook columns)" if labelled else "(all columns)"
        result = ingest_survey(raw, book, required)
        table, flow, lines, findings = result.table, result.flow, result.lines, result.findings
        declarations, wave = book.declarations, book.wave
    else:
        raw = read_table(path, encoding=encoding)
        compared = "(all columns)"
        declarations, guessed = coded_declarations(raw.data, declared, source)
        table = prepare_coded_table(raw, required, declarations)
        flow = flow_table([("rows in the coded table", len(table), None)])
        lines = default_lines(len(table))
        findings = [
            Finding(WARNING, "undeclared_column", source, "", "", len(table), "", text)
            for text in guessed
        ]
    findings = duplicate_rows(raw.data, source, compared) + findings
    before = len(table)
    table, table_findings = check_table(table, lines, source, declarations)
    findings += table_findings
    if len(table) < before:
        flow = _with_weight_exclusion(flow, before - len(table), len(table))
    for spec in specs:
        findings += design_findings(table, spec)
    raise_for_errors(findings, source)
    return LoadedInput(table, flow, findings, declarations, wave)


def write_declarations(
    table: pd.DataFrame, declarations: dict, out_dir: Path, wave: int | None = None
) -> dict:
    """Write ``declarations.yaml`` beside the analysis table; return the columns' declarations.

    What each column is (labels, levels, units), without the codebook's derivations (their
    raw items are not in the table): every later stage labels its outputs from this file.
    """
    in_table = {n: d for n, d in declarations.items() if n in table.columns}
    described = {n: replace(d, source=None) for n, d in in_table.items()}
    header = f"# Declarations of the columns of {ANALYSIS_DATA_FILE} (labels for every output)\n"
    write_text(Path(out_dir) / DECLARATIONS_FILE, dump_declarations(described, wave, header))
    return in_table


def write_outputs(
    table: pd.DataFrame,
    flow: pd.DataFrame,
    out_dir: Path,
    source: str,
    findings: list[Finding] | None = None,
    declarations: dict | None = None,
    wave: int | None = None,
) -> Path:
    """Write the analysis table, dictionary, flow, warnings and source; print a summary."""
    declarations = declarations or shipped_declarations()
    if findings is None:  # the synthetic sample: the same table checks, nothing dropped
        _, findings = check_table(table, default_lines(len(table)), source, declarations)
    warnings = warnings_frame(findings)
    path = write_analysis_table(table, out_dir / ANALYSIS_DATA_FILE)
    write_with(out_dir / "data_warnings.csv", lambda p: warnings.to_csv(p, index=False))
    write_text(out_dir / "source.txt", source + (f"; wave {wave}" if wave else "") + "\n")
    if WEIGHT in table:
        weights = pd.DataFrame([weight_summary(table[WEIGHT].to_numpy(float))])
        write_with(out_dir / "weight_summary.csv", lambda p: weights.to_csv(p, index=False))
        print(f"survey weights: {describe(weights.iloc[0].to_dict())}")
    for finding in findings:
        print(f"{finding.severity}: {finding}")
    in_table = write_declarations(table, declarations, out_dir, wave)
    dictionary = data_dictionary(in_table).assign(wave=wave if wave else "")
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
    record = f"{table[OUTCOME].mean():.1%} with a health record, " if OUTCOME in table else ""
    print(
        f"analysis data: {len(table)} respondents, {record}"
        f"{(sizes > 0).sum()} provinces of {sizes[sizes > 0].min()}-{sizes.max()} "
        f"respondents; data hash {data_hash(table)}"
    )
    print(f"wrote {path}, {out_dir / DATA_DICTIONARY_FILE} and {out_dir / FLOW_FILE}")
    return path


def build_default_data(out_dir: Path, n: int, seed: int, population: str = "aged_60_plus") -> Path:
    """Generate, type and write the synthetic analysis data set; return its path."""
    sample = generate_synthetic_sample(n=n, seed=seed, population=population)
    declarations = synthetic_declarations()
    table = to_analysis_table(sample.data, declarations)
    calibrated = population == "aged_60_plus"
    label = "calibrated to the analysed sample" if calibrated else population
    published_n = 3158 if calibrated else None
    flow = flow_table([(f"synthetic sample (seed {seed}), {label}", n, published_n)])
    source = f"synthetic sample, n={n}, seed={seed}"
    if population != "aged_60_plus":
        source += f", population={population}"
    path = write_outputs(table, flow, out_dir, source, declarations=declarations, wave=2015)
    _write_truths(
        out_dir,
        {
            "synthetic_truth.csv": sample.province_truth,
            "synthetic_city_truth.csv": sample.city_truth,
            "synthetic_coefficients.csv": sample.coefficient_truth,
        },
    )
    return path


def build_pooled_data(out_dir: Path, n: int, seed: int, waves: list[int] | None) -> Path:
    """Generate and write a pooled multi-wave synthetic table (:mod:`data_prep.synthetic_waves`).

    Besides the analysis table and its dictionary, writes the truth: ``synthetic_truth.csv``
    (province intercepts), ``synthetic_province_wave_truth.csv`` (province-by-wave deviations)
    and ``synthetic_coefficients.csv`` (intercept, coefficients, wave effects, SDs).
    """
    sample = generate_pooled_waves(n, seed, waves)
    years = sample.data["wave"].cat.categories
    label = f"waves {years[0]}-{years[-1]}"
    flow = flow_table([(f"synthetic pooled sample (seed {seed}), {label}", n, None)])
    source = f"synthetic pooled sample, n={n}, seed={seed}, {label}"
    path = write_outputs(sample.data, flow, out_dir, source, declarations=wave_declarations(waves))
    _write_truths(
        out_dir,
        {
            "synthetic_truth.csv": sample.province_truth,
            "synthetic_province_wave_truth.csv": sample.province_wave_truth,
            "synthetic_coefficients.csv": sample.coefficient_truth,
        },
    )
    return path


def _write_truths(out_dir: Path, truths: dict[str, pd.DataFrame]) -> None:
    """Write each generating-truth table beside the synthetic data (``{file name: table}``)."""
    for name, truth in truths.items():
        write_with(out_dir / name, lambda p, t=truth: t.to_csv(p, index=False))


def parse_waves(text: str) -> list[int]:
    """Survey years from ``2011-2018`` (a range) or ``2011,2013,2015`` (a list)."""
    try:
        if "-" in text:
            first, last = (int(part) for part in text.split("-", 1))
            return list(range(first, last + 1))
        return [int(part) for part in text.split(",")]
    except ValueError as err:
        raise argparse.ArgumentTypeError(
            f"waves must be a range such as 2011-2018 or a list such as 2011,2015: {text!r}"
        ) from err


def describe_main(argv: list[str]) -> int:
    """``python -m data_prep describe FILE``: write a starter dictionary for a coded table."""
    parser = argparse.ArgumentParser(
        prog="python -m data_prep describe",
        description="Write a starter dictionary (declarations) for a coded table, to edit.",
    )
    parser.add_argument("file", type=Path, help="the coded table (.csv or .parquet) to describe")
    parser.add_argument("--out", type=Path, help="default: <file stem>_dictionary.yaml beside it")
    parser.add_argument("--encoding", help="text encoding of the input (e.g. gb18030)")
    args = parser.parse_args(argv)
    try:
        raw = read_table(args.file, encoding=args.encoding)
    except InputFileError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    shipped = {n: d for n, d in shipped_declarations().items() if d.in_table}
    known = {n: replace(d, source=None) for n, d in shipped.items() if n in raw.data.columns}
    guessed, warnings = infer_declarations(
        raw.data[[c for c in raw.data.columns if c not in known]], str(args.file)
    )
    out = args.out or args.file.with_name(f"{args.file.stem}_dictionary.yaml")
    header = (
        f"# Starter dictionary for {args.file.name}, written by `python -m data_prep describe`.\n"
        "# Check each type, label, levels and reference (format: cmds_common/declarations.py),\n"
        f"# then: python -m data_prep --input {args.file} --dictionary {out.name}\n"
    )
    write_text(out, dump_declarations({**known, **guessed}, header=header))
    for warning in warnings:
        print(f"warning: {warning}")
    print(f"wrote {out}: {len(known) + len(guessed)} columns declared")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Build the parser of ``python -m data_prep`` (``describe`` has its own)."""
    parser = argparse.ArgumentParser(
        prog="python -m data_prep",
        description=__doc__.splitlines()[0],
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument(
        "--out", type=Path, default=DATA_DIR, help="folder the analysis data set is written to"
    )
    parser.add_argument("--input", type=Path, help="your .sav, .dta, .csv or .parquet file")
    parser.add_argument("--codebook", type=Path, help="codebook YAML for a raw survey file")
    parser.add_argument(
        "--dictionary", type=Path, help="declarations (types, levels) of a coded table's columns"
    )
    parser.add_argument("--encoding", help="text encoding of the input (e.g. gb18030)")
    parser.add_argument(
        "--spec",
        action="append",
        help="models the data must serve (default: model1 and model2); repeatable",
    )
    parser.add_argument(
        "--study",
        help="a study (name under studies/, or its folder): its synthetic sample, codebook, flow",
    )
    parser.add_argument(
        "--n",
        type=int,
        help=f"synthetic sample size (default {DEFAULT_SAMPLE_SIZE}, or the study's)",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="seed of the synthetic sample"
    )
    parser.add_argument(
        "--population",
        choices=sorted(POPULATIONS),
        default="aged_60_plus",
        help="synthetic data: the paper's 60+ sample, or all ages 15+ (whole-wave sizes)",
    )
    parser.add_argument(
        "--waves",
        type=parse_waves,
        help="synthetic data: pooled waves (e.g. 2011-2018; all ages, a wave column and "
        "province x wave intercepts; see data_prep/synthetic_waves.py)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["describe"]:
        return describe_main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.study:
        from data_prep.study_data import study_main

        return study_main(args)
    args.n = args.n or DEFAULT_SAMPLE_SIZE
    if args.input is None and args.waves:
        build_pooled_data(args.out, args.n, args.seed, args.waves)
        return 0
    if args.input is None:
        build_default_data(args.out, args.n, args.seed, args.population)
        return 0
    try:
        specs = [load_spec(name) for name in args.spec or ["model1", "model2"]]
        loaded = load_input(args.input, args.codebook, args.encoding, specs, args.dictionary)
    except INPUT_ERRORS as err:
        print(f"error: {err}", file=sys.stderr)
        print(f"nothing was written to {args.out}", file=sys.stderr)
        return 2
    source = f"{args.input}" + (f" read through codebook {args.codebook}" if args.codebook else "")
    source += f" with dictionary {args.dictionary}" if args.dictionary else ""
    write_outputs(
        loaded.table,
        loaded.flow,
        args.out,
        source,
        loaded.findings,
        loaded.declarations,
        loaded.wave,
    )
    return 0
