"""Benchmark: time the Model 2 fit end to end for each engine and parameterisation.

``python -m devtools.bench`` (``make bench``) runs ``python -m models --spec model2`` (and, for
two rows, the province/city spec ``model2_city`` and the gaussian ``integration_index``) as a fresh
process per configuration, timing it from process start until it exits (the NetCDF file and the
frequentist table written), and reads its peak memory from the operating system. From each saved
fit it reports the smallest bulk ESS over the intercept, every coefficient and the group SDs,
that ESS per second of wall time, the largest R-hat over the same quantities and the number of
divergent transitions. The ``jax`` row (``--sampler jax``: the same log-density in JAX) names in
its note the device JAX saw (a GPU when there is one), and says why when JAX is not installed.
A further row fits the random-intercept model on a whole-wave-sized
(206,000-row, all-ages) synthetic sample (``--no-wave`` skips it), and two last rows fit the
pooled-waves spec (``models/specs/pooled_waves.yaml``: wave effects, province and
province-by-wave intercepts) to 1,500,000 synthetic respondents over 2011-2018, once with the
compiled log-density and once with ``lme4::glmer`` (Laplace, ``calc.derivs = FALSE``) through
``Rscript devtools/glmer_pooled.R`` on the same table written as CSV (which it collapses into
binomial rows, as the Bayesian fit does), timed and measured the same way in the same run
(``--no-pooled`` skips both; the glmer row says why when R or lme4 is missing). A final row
times the whole main job, ``make fit`` on the default data (data set, every default fit, then
the summaries, predictive checks, LOO comparison, effects and weighting steps), twice, each time
into a fresh results folder so that every fit is drawn: the first run also fills numba's cache
when it is empty, the second is the figure reported (``--no-make-fit`` skips it). Results go to
``results/bench.csv`` and ``.md``.

Nothing here is a test: no time limit makes anything fail.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd

from cmds_common.atomic import write_text, write_with
from cmds_common.constants import DEFAULT_SEED, RESULTS_DIR
from cmds_common.markdown import to_markdown
from cmds_common.spec import load_spec
from models.log_density_jax import JAX_INSTALL_HINT, jax_available
from models.parameter_names import free_parameter_names
from models.sampling import package_versions

WAVE_SIZE = 206_000
POOLED_SIZE = 1_500_000
POOLED_WAVES = "2011-2018"
POOLED_SPEC = "pooled_waves"
GLMER_SCRIPT = Path(__file__).with_name("glmer_pooled.R")


@dataclass(frozen=True)
class BenchCase:
    """One configuration: a label, the data set and the extra ``python -m models`` arguments."""

    label: str
    data: str  # "default", "wave" or "pooled"
    args: tuple[str, ...]
    spec: str = "model2"


CASES = (
    BenchCase("compiled, per-province centring, aggregated (default)", "default", ()),
    BenchCase(
        "compiled, non-centred, one row per respondent",
        "default",
        ("--sampler", "compiled", "--parameterisation", "non_centred", "--no-aggregate"),
    ),
    BenchCase(
        "compiled, centred", "default", ("--sampler", "compiled", "--parameterisation", "centred")
    ),
    BenchCase(
        "JAX log-density through nutpie, per-province centring, aggregated (SAMPLER=jax)",
        "default",
        ("--sampler", "jax"),
    ),
    BenchCase(
        "nutpie on the PyMC model (non-centred)",
        "default",
        (
            "--sampler",
            "nutpie",
        ),
    ),
    BenchCase(
        "PyMC NUTS on the PyMC model (non-centred)",
        "default",
        (
            "--sampler",
            "pymc",
        ),
    ),
    BenchCase(
        "compiled, province and city intercepts (model2_city, 4 x 3,000 draws)",
        "default",
        (),
        "model2_city",
    ),
    BenchCase(
        "nutpie on the PyMC model, gaussian index (integration_index)",
        "default",
        (),
        "integration_index",
    ),
    BenchCase("compiled (default), 206,000-row all-ages wave", "wave", ()),
    BenchCase(
        "compiled (default), 1,500,000-row pooled waves 2011-2018 (pooled_waves)",
        "pooled",
        (),
        POOLED_SPEC,
    ),
)


def machine_description() -> str:
    """CPU model, logical cores, memory and Python version of this machine."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kb = int(meminfo.read_text().split()[1])
        memory = f", {total_kb / 2**20:.0f} GiB"
    return f"{cpu}, {os.cpu_count()} logical cores{memory}, Python {platform.python_version()}"


def run_timed(command: list[str]) -> tuple[float, float, int, str]:
    """Run a command; return wall seconds, peak resident memory (MiB), exit code and output."""
    started = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, text=True)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        output.seek(0)
        text = output.read()
    return wall, usage.ru_maxrss / 1024, process.returncode, text


def run_checked(label: str, attempt: int, command: list[str]) -> tuple[float, float]:
    """Run one timed attempt of a case; return wall seconds and peak memory (MiB).

    Raises
    ------
    RuntimeError
        When the command fails (its last output lines are included).
    """
    print(f"[bench] {label}: run {attempt}", flush=True)
    wall, peak_mib, code, text = run_timed(command)
    if code != 0:
        raise RuntimeError(f"{label} failed (exit {code}):\n{text[-2000:]}")
    return wall, peak_mib


def checked_names(spec_name: str) -> list[str]:
    """Return the spec's free parameters without per-group effects (intercept, beta, SDs)."""
    names = free_parameter_names(load_spec(spec_name))
    return [name for name in names if not name.endswith(("_effect", "_slope"))]


def fit_diagnostics(netcdf: Path, spec_name: str = "model2") -> dict[str, float]:
    """Respondents, smallest bulk ESS, largest R-hat and divergences of a saved fit."""
    idata = az.from_netcdf(netcdf)
    attrs = idata.posterior.attrs
    checked = checked_names(spec_name)
    ess = az.ess(idata.posterior.to_dataset(), var_names=checked, method="bulk")
    rhat = az.rhat(idata.posterior.to_dataset(), var_names=checked)
    return {
        "respondents": int(attrs["n_obs"]),
        "min_ess_bulk": float(min(ess[v].min() for v in ess.data_vars)),
        "max_r_hat": float(max(rhat[v].max() for v in rhat.data_vars)),
        "divergences": int(idata.sample_stats["diverging"].sum()),
        "sampling_s": float(attrs.get("sampling_seconds", np.nan)),
        "rows_in_likelihood": int(attrs.get("compiled_rows", attrs["n_obs"])),
        **({"note": f"JAX device: {attrs['jax_device']}"} if "jax_device" in attrs else {}),
    }


def build_data(
    out_dir: Path, n: int | None, population: str, seed: int, waves: str | None = None
) -> Path:
    """Write a synthetic analysis data set for the benchmark (unless it is already there)."""
    path = out_dir / "analysis_data.parquet"
    if not path.exists():
        command = [sys.executable, "-m", "data_prep", "--out", str(out_dir), "--seed", str(seed)]
        if n is not None:
            command += ["--n", str(n), "--population", population]
        if waves is not None:
            command += ["--waves", waves]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return path


def glmer_unavailable() -> str:
    """Why ``lme4::glmer`` cannot run here (empty when it can)."""
    if shutil.which("Rscript") is None:
        return "Rscript not found on PATH"
    probe = subprocess.run(
        [
            "Rscript",
            "-e",
            "quit(status = !(requireNamespace('lme4', quietly = TRUE) && "
            "requireNamespace('data.table', quietly = TRUE)))",
        ],
        capture_output=True,
    )
    return "" if probe.returncode == 0 else "R packages lme4 and data.table are not both installed"


def glmer_csv(data_path: Path, spec_name: str, out: Path) -> Path:
    """Write the spec's columns as CSV for R: the outcome, and category codes (0 = reference)."""
    spec = load_spec(spec_name)
    columns = list(dict.fromkeys([spec.outcome, *spec.used_columns()]))
    table = pd.read_parquet(data_path, columns=columns)
    for name in columns[1:]:
        if isinstance(table[name].dtype, pd.CategoricalDtype):
            reference = spec.reference_levels.get(name)
            if reference is not None and reference != table[name].cat.categories[0]:
                raise ValueError(f"{name}: glmer_pooled.R takes the first category as reference")
            table[name] = table[name].cat.codes
    write_with(out, lambda p: table.to_csv(p, index=False))
    return out


def glmer_row(data_path: Path, work: Path, netcdf: Path) -> dict:
    """Time ``lme4::glmer`` on the pooled table; compare its fixed effects with the posterior."""
    label = f"lme4::glmer (Laplace), same table and formula ({POOLED_SPEC})"
    reason = glmer_unavailable()
    if reason:
        print(f"[bench] {label}: skipped ({reason})", flush=True)
        return {"configuration": label, "note": f"skipped: {reason}"}
    csv = glmer_csv(data_path, POOLED_SPEC, work / "pooled_glmer_data.csv")
    estimates = work / "pooled_glmer_estimates.csv"
    print(f"[bench] {label}", flush=True)
    formula = load_spec(POOLED_SPEC).formula
    wall, peak_mib, code, text = run_timed(
        ["Rscript", str(GLMER_SCRIPT), str(csv), str(estimates), formula]
    )
    if code != 0:
        raise RuntimeError(f"{label} failed (exit {code}):\n{text[-2000:]}")
    printed = dict(line.split()[:2] for line in text.splitlines() if line.startswith("glmer_"))
    glmer = pd.read_csv(estimates)
    posterior = az.from_netcdf(netcdf).posterior
    bayes = np.concatenate(
        [[float(posterior["intercept"].mean())], posterior["beta"].mean(("chain", "draw")).values]
    )
    fixed = glmer.loc[glmer["se"].notna(), "estimate"].to_numpy()
    difference = float(np.max(np.abs(fixed - bayes))) if len(fixed) == len(bayes) else np.nan
    print(f"[bench] {label}: {wall:.1f} s, {peak_mib:.0f} MiB", flush=True)
    return {
        "configuration": label,
        "respondents": len(pd.read_parquet(data_path, columns=[load_spec(POOLED_SPEC).outcome])),
        "wall_s": round(wall, 1),
        "wall_s_runs": f"{wall:.1f}",
        "peak_memory_mib": round(peak_mib),
        "note": (
            f"glmer itself {float(printed['glmer_seconds']):.1f} s on "
            f"{int(printed['glmer_rows']):,} binomial rows (the rest: starting R, reading and "
            "collapsing the CSV); "
            f"largest |glmer estimate - posterior mean| over intercept and coefficients "
            f"{difference:.3f}"
        ),
    }


def make_fit_row(work: Path, seed: int) -> dict:
    """Time ``make fit`` on the default data twice, each into a fresh results folder.

    Every fit is drawn (no saved fit key matches in a new folder). The first run also compiles
    numba's functions into their cache when it is empty; the second run's wall time is the one
    reported (``wall_s``), both are listed (``wall_s_runs``). Peak memory is the largest
    resident set of any process ``make`` ran.

    Raises
    ------
    RuntimeError
        When ``make fit`` exits with an error (its last output lines are included).
    """
    root = Path(__file__).resolve().parents[1]
    times, memory = [], []
    for attempt in (1, 2):
        results = work / f"make_fit_{attempt}"
        shutil.rmtree(results, ignore_errors=True)
        command = [
            "make", "-C", str(root), "--no-print-directory", "fit",
            f"RESULTS={results.resolve()}", f"PYTHON={sys.executable}", f"SEED={seed}",
        ]  # fmt: skip
        wall, peak_mib = run_checked("whole make fit", attempt, command)
        times.append(wall)
        memory.append(peak_mib)
    print(f"[bench] whole make fit: {times[-1]:.1f} s (first run {times[0]:.1f} s)", flush=True)
    return {
        "configuration": "whole `make fit` on the default data (every default fit and step)",
        "respondents": 3158,
        "wall_s": round(times[-1], 1),
        "wall_s_runs": " ".join(f"{t:.1f}" for t in times),
        "peak_memory_mib": round(max(memory)),
        "note": "data, fits, summaries, predictive checks, LOO, effects, weighting",
    }


def run_bench(
    out: Path,
    repeats: int,
    include_wave: bool,
    seed: int,
    include_pooled: bool = True,
    include_make_fit: bool = True,
) -> pd.DataFrame:
    """Run every case; return one row per case (median wall time over ``repeats``)."""
    work = out / "bench"
    data = {
        "default": build_data(work / "data", None, "aged_60_plus", seed),
    }
    if include_wave:
        data["wave"] = build_data(work / "wave_data", WAVE_SIZE, "all_ages", seed)
    if include_pooled:
        data["pooled"] = build_data(
            work / "pooled_data", POOLED_SIZE, "all_ages", seed, POOLED_WAVES
        )
    rows = []
    for case in CASES:
        if case.data not in data:
            continue
        if "jax" in case.args and not jax_available():
            print(f"[bench] {case.label}: skipped (JAX not installed)", flush=True)
            rows.append({"configuration": case.label, "note": f"skipped: {JAX_INSTALL_HINT}"})
            continue
        fits = work / "fits"
        command = [
            sys.executable,
            "-m",
            "models",
            "--data",
            str(data[case.data]),
            "--spec",
            case.spec,
            "--out",
            str(fits),
            "--seed",
            str(seed),
            "--refit",
            "--no-progress",
            *case.args,
        ]
        times, memory = [], []
        for attempt in range(repeats if case.data == "default" else 1):
            wall, peak_mib = run_checked(case.label, attempt + 1, command)
            times.append(wall)
            memory.append(peak_mib)
        diagnostics = fit_diagnostics(fits / f"{case.spec}.nc", case.spec)
        wall = float(np.median(times))
        rows.append(
            {
                "configuration": case.label,
                "respondents": diagnostics["respondents"],
                "wall_s": round(wall, 1),
                "wall_s_runs": " ".join(f"{t:.1f}" for t in times),
                **diagnostics,
                "ess_per_s": round(diagnostics["min_ess_bulk"] / wall, 1),
                "peak_memory_mib": round(max(memory)),
            }
        )
        print(f"[bench] {case.label}: {wall:.1f} s, min bulk ESS {diagnostics['min_ess_bulk']:.0f}")
        if case.data == "pooled":
            rows.append(glmer_row(data["pooled"], work, fits / f"{case.spec}.nc"))
    if include_make_fit:
        rows.append(make_fit_row(work, seed))
    table = pd.DataFrame(rows)
    table["note"] = table["note"].fillna("") if "note" in table else ""
    table["min_ess_bulk"] = table["min_ess_bulk"].round(0)
    table["max_r_hat"] = table["max_r_hat"].round(4)
    table["machine"] = machine_description()
    versions = package_versions()
    table["versions"] = " ".join(f"{k}={versions[k]}" for k in ("pymc", "nutpie", "numpy"))
    return table


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write ``<out>/bench.csv`` and ``<out>/bench.md``."""
    parser = argparse.ArgumentParser(
        prog="python -m devtools.bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--repeats", type=int, default=3, help="runs per 3,158-row case (median)")
    parser.add_argument("--no-wave", action="store_true", help="skip the 206,000-row case")
    parser.add_argument(
        "--no-pooled",
        action="store_true",
        help="skip the 1,500,000-row pooled-waves fit and lme4::glmer beside it",
    )
    parser.add_argument(
        "--no-make-fit", action="store_true", help="skip timing the whole `make fit` (twice)"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    table = run_bench(
        args.out,
        args.repeats,
        not args.no_wave,
        args.seed,
        not args.no_pooled,
        not args.no_make_fit,
    )
    write_with(args.out / "bench.csv", lambda p: table.to_csv(p, index=False))
    shown = table.drop(columns=["machine", "versions"])
    header = (
        "# Benchmark: Model 2, 4 chains x 1,000 draws after 500 warm-up\n\n"
        f"Machine: {table['machine'].iloc[0]}. Packages: {table['versions'].iloc[0]}.\n"
        "Wall time is process start to NetCDF written (median of the runs listed). Rows of "
        "other specs use their spec's sampler settings (model2_city: 3,000 draws; "
        "pooled_waves: 300 draws after 300 warm-up).\n\n"
    )
    write_text(args.out / "bench.md", header + to_markdown(shown, float_format="{:.6g}"))
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(shown.to_string(index=False))
    print(f"wrote {args.out / 'bench.csv'} and {args.out / 'bench.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
