"""A study's analysis data set: its synthetic default sample, or a raw file through its flow.

``python -m data_prep --study ma2023 --out results/ma2023/data`` writes the study's seeded
synthetic sample (:mod:`data_prep.synthetic_factor_sample`, parameters in the study folder),
typed by the study's codebook declarations. With ``--input FILE`` the file goes through the
study's codebook (or ``--codebook``), with the study's own ``variables:`` added to the
codebook's, and the study's inclusion flow, which replaces the codebook's own, and must provide
every column the study reads (:meth:`cmds_common.study.Study.required_columns`). The outputs
are those of any data build (:func:`data_prep.build_cli.write_outputs`) plus, for synthetic
data, ``synthetic_truth.csv`` (true province effects of the treatment).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cmds_common.atomic import write_with
from cmds_common.declarations import type_table
from cmds_common.reference import figure_value, published_figures
from cmds_common.study import Study, StudyError, load_study
from data_prep.build_cli import INPUT_ERRORS, load_input, write_declarations, write_outputs
from data_prep.codebook import Codebook, CodebookError, load_codebook, with_variables
from data_prep.flow import FlowStep, flow_table, parse_flow
from data_prep.synthetic_factor_sample import generate_factor_sample, load_factor_params
from data_prep.synthetic_subgroups import (
    generate_subgroup_sample,
    load_params,
    write_subgroup_sample,
)


def study_variables(study: Study) -> Path | None:
    """Return the study file when it declares its own ``variables:`` (``None`` otherwise)."""
    return study.folder / "study.yaml" if study.raw.get("variables") is not None else None


def study_codebook(study: Study, codebook_path: Path) -> Codebook:
    """Return the codebook with the study's own variables added (:func:`with_variables`).

    Raises
    ------
    CodebookError
        A study variable clashing with the codebook's or naming what neither declares.
    """
    book = load_codebook(codebook_path)
    variables = study_variables(study)
    return book if variables is None else with_variables(book, variables)


def study_flow(study: Study, codebook_path: Path) -> list[FlowStep] | None:
    """Return the study's inclusion flow, checked against the codebook (``None``: none given).

    Names in the steps may be the codebook's items and variables and the study's own
    variables.

    Raises
    ------
    CodebookError
        A step naming something neither the codebook nor the study declares.
    """
    steps = study.raw.get("flow")
    if steps is None:
        return None
    book = study_codebook(study, codebook_path)
    where = str(study.folder / "study.yaml")
    parsed, problems = parse_flow(steps, [], where, set(book.declarations) | set(book.items))
    if problems:
        raise CodebookError("\n".join(problems))
    return parsed


def build_study_synthetic(study: Study, out_dir: Path, seed: int, n: int | None = None) -> Path:
    """Generate, type and write a study's synthetic sample; return the table's path."""
    params = load_factor_params(study.path("synthetic"))
    sample = generate_factor_sample(params, seed, n)
    declarations = load_codebook(study.path("codebook")).declarations
    table = type_table(sample.data, declarations)
    published = published_figures(study.path("published"))
    calibrated = n is None or n == int(params["n"])
    published_n = int(figure_value(published, "n_insured_analysed")) if calibrated else None
    label = f"synthetic sample (seed {seed}), calibrated to {study.name}'s published figures"
    flow = flow_table([(label, len(table), published_n)])
    source = f"synthetic sample for study {study.name}, n={len(table)}, seed={seed}"
    path = write_outputs(
        table, flow, out_dir, source, declarations=declarations, wave=int(study.raw["wave"])
    )
    write_with(out_dir / "synthetic_truth.csv", lambda p: sample.truth.to_csv(p, index=False))
    return path


def build_subgroup_synthetic(study: Study, out_dir: Path, seed: int, n: int | None = None) -> Path:
    """Write the heterogeneity study's synthetic sample, its truth and its declarations.

    The declarations (the codebook's and the study's own variables, those in the table) label
    every later output; returns the table's path.
    """
    sample = generate_subgroup_sample(load_params(study.path("synthetic")), n=n, seed=seed)
    path = write_subgroup_sample(sample, out_dir)
    declarations = study_codebook(study, study.path("codebook")).declarations
    write_declarations(sample.table, declarations, out_dir, int(study.raw["wave"]))
    print(f"wrote {path} ({len(sample.table)} respondents, seed {seed}) and the generating truth")
    return path


#: A study's ``analysis:`` -> the builder of its synthetic default sample.
SYNTHETIC_BUILDERS = {"heterogeneity": build_subgroup_synthetic}
#: What the synthetic builders write besides the data: the generating truth. A real file's
#: data removes them, so that no analysis compares real estimates with a synthetic truth.
SYNTHETIC_TRUTH_FILES = (
    "synthetic_truth.csv",
    "synthetic_city_truth.csv",
    "synthetic_coefficients.csv",
    "subgroup_slope_truth.csv",
)


def study_main(args: argparse.Namespace) -> int:
    """``python -m data_prep --study NAME [--input FILE]``; return the exit status."""
    try:
        study = load_study(args.study)
        if args.input is None:
            builder = SYNTHETIC_BUILDERS.get(study.raw.get("analysis"), build_study_synthetic)
            builder(study, args.out, args.seed, args.n)
            return 0
        codebook = args.codebook or study.path("codebook")
        loaded = load_input(
            args.input,
            codebook,
            args.encoding,
            [],
            args.dictionary,
            flow=study_flow(study, codebook),
            columns=study.required_columns(),
            variables=study_variables(study),
        )
    except (StudyError, *INPUT_ERRORS) as err:
        print(f"error: {err}", file=sys.stderr)
        print(f"nothing was written to {args.out}", file=sys.stderr)
        return 2
    source = f"{args.input} read through codebook {codebook} with the inclusion flow of study "
    write_outputs(
        loaded.table,
        loaded.flow,
        args.out,
        source + study.name,
        loaded.findings,
        loaded.declarations,
        loaded.wave,
    )
    for name in SYNTHETIC_TRUTH_FILES:
        stale = Path(args.out) / name
        if stale.exists():
            stale.unlink()
            print(f"removed {stale}: the truth of a synthetic sample, not of {args.input}")
    return 0
