"""Command line: fit the frequentist and Bayesian versions of one or more model specs.

``python -m models --data results/data/analysis_data.parquet --spec model1 --spec model2``
writes, per spec, ``<out>/<name>_frequentist.csv`` and ``<out>/<name>.nc`` (ArviZ NetCDF). A spec
whose saved fit has the same fit key (data, spec, sampler settings, seed, package versions) is
skipped; ``--refit`` forces a new fit. When only effective sample sizes fall short, further
batches of chains are drawn (at most ``--max-extra-batches``, default
:data:`~cmds_common.constants.MAX_EXTRA_BATCHES`; see :mod:`models.batches`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from cmds_common.analysis_table import data_hash, read_analysis_table
from cmds_common.atomic import write_with
from cmds_common.constants import (
    ANALYSIS_DATA_FILE,
    DATA_DIR,
    DEFAULT_CHAINS,
    DEFAULT_DRAWS,
    DEFAULT_PRIOR_DRAWS,
    DEFAULT_SEED,
    DEFAULT_TUNE,
    FITS_DIR,
    MAX_EXTRA_BATCHES,
)
from cmds_common.help_format import DefaultsHelpFormatter
from cmds_common.spec import ModelSpec, SpecError, load_spec, spec_to_yaml
from data_prep.design_check import design_findings
from models.fit_cache import fit_key, remove_interrupted_writes, stored_fit_key
from models.fit_file import write_fit_netcdf
from models.fitting import fit_model, spec_settings
from models.parameterisation import PARAMETERISATIONS
from models.sampling import SAMPLERS, SamplerSettings


class PartialFitWritten(KeyboardInterrupt):
    """Sampling was interrupted in an extra batch; the complete batches were written."""


def fit_spec(
    spec: ModelSpec,
    data_path: Path,
    out_dir: Path,
    settings: SamplerSettings,
    refit: bool = False,
) -> tuple[Path, Path]:
    """Fit one spec both ways and write the results, unless an identical fit is saved.

    Both files are written only after sampling has finished, so a fit interrupted in its first
    batch leaves the previous pair (posterior and frequentist table) as it was. A fit
    interrupted in an extra batch (:mod:`models.batches`) keeps the batches it had completed:
    they are written, with a fit key that no settings match (so the next run samples again),
    and :class:`PartialFitWritten` (a :class:`KeyboardInterrupt`) is raised afterwards.

    Returns
    -------
    frequentist_csv, netcdf
        Paths of the two files.
    """
    table = read_analysis_table(data_path)
    hash_of_data = data_hash(table)
    spec_yaml = spec_to_yaml(spec)
    key = fit_key(hash_of_data, spec_yaml, settings)
    frequentist_csv = out_dir / f"{spec.name}_frequentist.csv"
    netcdf = out_dir / f"{spec.name}.nc"
    if not refit and frequentist_csv.exists() and stored_fit_key(netcdf) == key:
        netcdf.touch()  # tell make the fit is current
        print(f"[{spec.name}] up to date (fit key {key}); nothing to refit")
        return frequentist_csv, netcdf

    _, frequentist, idata = fit_model(
        table,
        spec,
        settings,
        attrs={"data_path": str(data_path), "fit_key": key},
    )
    attrs = idata.posterior.attrs
    if attrs.get("batches_interrupted"):
        attrs["fit_key"] = f"{key}-interrupted"
    write_with(netcdf, lambda p: write_fit_netcdf(idata, p))
    write_with(frequentist_csv, lambda p: frequentist.to_csv(p, index=False))
    print(f"[{spec.name}] posterior written to {netcdf}, frequentist fit to {frequentist_csv}")
    if attrs.get("batches_interrupted"):
        raise PartialFitWritten(
            f"[{spec.name}] the {attrs['extra_batches'] + 1} complete batch(es) were written to "
            f"{netcdf}; the next run samples this model again"
        )
    return frequentist_csv, netcdf


def check_designs(specs: list[ModelSpec], data_path: Path) -> None:
    """Stop before any fit when a spec cannot be estimated on the data (empty level, rank).

    Raises
    ------
    SpecError
        Listing every design problem of every spec.
    """
    table = read_analysis_table(data_path)
    problems = [str(f) for spec in specs for f in design_findings(_as_numbers(table, spec), spec)]
    if problems:
        raise SpecError(
            f"{data_path}: the data cannot serve these specs (nothing was fitted):\n  - "
            + "\n  - ".join(problems)
        )


def _as_numbers(table: pd.DataFrame, spec: ModelSpec) -> pd.DataFrame:
    """Give an ordinal outcome as its codes (``design_findings`` reads outcomes as numbers)."""
    if spec.family != "cumulative_logit" or spec.outcome not in table:
        return table
    values = table[spec.outcome]
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return table
    return table.assign(**{spec.outcome: values.cat.codes.where(values.notna())})


def whole_number(minimum: int) -> Callable[[str], int]:
    """Make an argparse type: a whole number >= ``minimum``, else a usage error naming the option.

    Parameters
    ----------
    minimum
        Smallest value allowed.

    Returns
    -------
    callable
        Converts the option's text; raises ``argparse.ArgumentTypeError`` (argparse prints it
        with the option's name and exits with status 2) for anything else.
    """

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < minimum:
            raise argparse.ArgumentTypeError(f"must be a whole number >= {minimum}, got {text!r}")
        return value

    return convert


def build_parser() -> argparse.ArgumentParser:
    """Arguments of ``python -m models``."""
    parser = argparse.ArgumentParser(
        prog="python -m models",
        description=__doc__.splitlines()[0],
        formatter_class=DefaultsHelpFormatter,
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DATA_DIR / ANALYSIS_DATA_FILE,
        help="analysis data set written by python -m data_prep",
    )
    parser.add_argument(
        "--spec",
        action="append",
        help="shipped spec name (model1, model2) or path to a spec .yaml; repeatable",
    )
    parser.add_argument(
        "--out", type=Path, default=FITS_DIR, help="folder the fits (<model>.nc) are written to"
    )
    parser.add_argument(
        "--sampler",
        choices=SAMPLERS,
        default="auto",
        help="auto (default): compiled for bernoulli and binomial specs (random intercepts, "
        "group predictors, correlated slopes), nutpie otherwise; jax: the compiled "
        "random-intercept log-density in JAX, on a GPU when JAX sees one",
    )
    parser.add_argument(
        "--parameterisation",
        choices=PARAMETERISATIONS,
        default="auto",
        help="compiled and jax engines: centred or non-centred province effects "
        "(auto: chosen per province)",
    )
    parser.add_argument(
        "--no-aggregate",
        action="store_true",
        help="compiled and jax engines: keep one likelihood term per respondent "
        "(same posterior, slower)",
    )
    parser.add_argument(
        "--chains", type=whole_number(1), help=f"default {DEFAULT_CHAINS}, or the spec's"
    )
    parser.add_argument(
        "--draws", type=whole_number(1), help=f"default {DEFAULT_DRAWS}, or the spec's"
    )
    parser.add_argument(
        "--tune", type=whole_number(0), help=f"default {DEFAULT_TUNE}, or the spec's"
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="seed of the sampler (same seed, same draws)"
    )
    parser.add_argument(
        "--max-extra-batches",
        type=whole_number(0),
        default=MAX_EXTRA_BATCHES,
        help="further batches of chains drawn when only ESS falls short "
        f"(default {MAX_EXTRA_BATCHES}; 0: none)",
    )
    parser.add_argument(
        "--prior-draws",
        type=whole_number(0),
        default=DEFAULT_PRIOR_DRAWS,
        help="prior and prior-predictive draws stored with each fit "
        f"(default {DEFAULT_PRIOR_DRAWS}; 0: none)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")
    parser.add_argument("--refit", action="store_true", help="refit even when a saved fit matches")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    if not args.data.exists():
        print(f"error: analysis data {args.data} not found; run `make data` first", file=sys.stderr)
        return 2
    for leftover in remove_interrupted_writes(args.out):
        print(f"removed {leftover}, left by an interrupted run")
    explicit = {k: getattr(args, k) for k in ("chains", "draws", "tune") if getattr(args, k)}
    try:
        specs = [load_spec(s) for s in (args.spec or ["model1", "model2"])]
        check_designs(specs, args.data)
        for spec in specs:
            settings = spec_settings(
                spec,
                args.sampler,
                explicit,
                parameterisation=args.parameterisation,
                aggregate=not args.no_aggregate,
                seed=args.seed,
                max_extra_batches=args.max_extra_batches,
                prior_draws=args.prior_draws,
                progress=not args.no_progress,
            )
            fit_spec(spec, args.data, args.out, settings, refit=args.refit)
    except SpecError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except PartialFitWritten as err:
        print(f"interrupted: {err}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted: the previous results are kept as they were", file=sys.stderr)
        return 130
    return 0
