"""Start a Dask cluster on SLURM for `make grid` / `make validate` (example; edit to your site).

Run on the cluster's login node, in the project's environment with the optional extra
installed (``pip install -e ".[cluster]"``, or ``conda install -c conda-forge dask-jobqueue``)::

    python grids/slurm_cluster.py --jobs 8 --queue normal --account myproject &
    make grid GRID=grids/example.yaml SCHEDULER=$(cat dask-scheduler.txt)

Each SLURM job runs ``--cores`` single-threaded Dask workers (one fit each at a time) from this
project folder, so the workers import the same code and read the same data files (a shared file
system, as clusters have). The scheduler runs here and its address is written to
``--address-file``; the cluster lives until this script is stopped (Ctrl-C or ``kill``), which
cancels the jobs. ``--print-job-script`` shows the batch script without submitting anything.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def build_parser() -> argparse.ArgumentParser:
    """Options: the size of each job and how many jobs to keep running."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=4, help="SLURM jobs (each --cores workers)")
    parser.add_argument("--cores", type=int, default=4, help="cores (= workers) per job")
    parser.add_argument("--memory", default="16GB", help="memory per job")
    parser.add_argument("--walltime", default="04:00:00", help="time limit per job")
    parser.add_argument("--queue", help="partition (sbatch -p)")
    parser.add_argument("--account", help="account charged (sbatch -A)")
    parser.add_argument(
        "--activate",
        default=f"source {PROJECT / '.venv' / 'bin' / 'activate'}",
        help="shell line that activates the project's environment in each job",
    )
    parser.add_argument("--address-file", type=Path, default=Path("dask-scheduler.txt"))
    parser.add_argument("--print-job-script", action="store_true", help="print it and stop")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Start the cluster, write its address, and keep it until stopped; the exit status."""
    from dask_jobqueue import SLURMCluster

    args = build_parser().parse_args(argv)
    cluster = SLURMCluster(
        cores=args.cores,
        processes=args.cores,  # single-threaded workers: one fit per core, as on a LocalCluster
        memory=args.memory,
        walltime=args.walltime,
        queue=args.queue,
        account=args.account,
        job_script_prologue=[args.activate, f"cd {PROJECT}"],
    )
    if args.print_job_script:
        print(cluster.job_script())
        cluster.close()
        return 0
    cluster.scale(jobs=args.jobs)
    args.address_file.write_text(cluster.scheduler_address + "\n")
    print(f"scheduler at {cluster.scheduler_address} (written to {args.address_file})")
    print(f"make grid GRID=grids/example.yaml SCHEDULER={cluster.scheduler_address}")
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
