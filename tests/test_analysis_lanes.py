"""Analysis steps after the gate in parallel lanes (``python -m analysis --jobs N``)."""

from __future__ import annotations

import sys

import pytest

from analysis import cli
from analysis.lanes import lane_threads, plan_lanes, resolve_jobs, run_in_lanes, step_cost

MAKE_FIT_STEPS = [
    ["ppc", "--models", "m1", "m2", "m3", "m4", "m5"],
    ["compare", "--models", "m3", "m2", "m4"],
    ["effects", "--models", "m1", "m2", "m3", "m4", "m5", "--pcv", "m0", "m1"],
    ["weights", "--fits", "f"],
]


def test_cost_counts_the_models_of_a_step():
    assert step_cost(MAKE_FIT_STEPS[0]) == 5 * step_cost(["ppc", "--models", "m1"])
    assert step_cost(MAKE_FIT_STEPS[2]) == 5 * step_cost(["effects"])  # --pcv names not counted
    assert step_cost(["weights", "--fits", "f"]) == step_cost(["weights"])


def test_lanes_balance_the_work_and_keep_each_lanes_order():
    lanes = plan_lanes(MAKE_FIT_STEPS, 2)
    # the predictive checks alone (55) against LOO + effects + weights (21 + 30 + 3)
    assert lanes == [[0], [1, 2, 3]]
    costs = [sum(step_cost(MAKE_FIT_STEPS[i]) for i in lane) for lane in lanes]
    assert max(costs) <= sum(costs) / 2 + max(step_cost(s) for s in MAKE_FIT_STEPS)
    assert plan_lanes(MAKE_FIT_STEPS, 1) == [[0, 1, 2, 3]]
    # never more lanes than steps, none empty, every step once
    lanes = plan_lanes(MAKE_FIT_STEPS, 16)
    assert sorted(i for lane in lanes for i in lane) == [0, 1, 2, 3] and len(lanes) == 4


@pytest.mark.parametrize("jobs", ["0", "-2", "two", ""])
def test_jobs_must_be_auto_or_a_positive_count(jobs, capsys):
    with pytest.raises(ValueError, match="'auto' or a whole number >= 1"):
        resolve_jobs(jobs)
    with pytest.raises(SystemExit) as stop:
        cli.main(["--jobs", jobs, "weights", "--then", "ppc", "--then", "compare"])
    assert stop.value.code == 2
    assert "argument --jobs" in capsys.readouterr().err
    assert resolve_jobs("auto") >= 1 and resolve_jobs("3") == 3


#: A stand-in child: waits for the go-ahead like ``python -m analysis --wait-for-start``, then
#: prints its steps and numba's thread count, writes one line to standard error and exits with
#: the status it is given.
CHILD = """
import sys
from analysis.lanes import wait_for_start
steps = sys.argv[1:]
if not wait_for_start():
    sys.exit(0)
import os
print("child ran", " ".join(steps), "threads", os.environ["NUMBA_NUM_THREADS"], flush=True)
print("child note", file=sys.stderr)
sys.exit(int(steps[-1]) if steps[-1].isdigit() else 0)
"""


def _child(arguments: list[str]) -> list[str]:
    return [sys.executable, "-c", CHILD, *arguments]


def _runner(ran: list, statuses: dict[str, int]):
    def run_steps(steps) -> int:
        for step in steps:
            ran.append(step[0])
            print("parent ran", step[0], flush=True)
            if statuses.get(step[0], 0):
                return statuses[step[0]]
        return 0

    return run_steps


def test_lanes_run_after_the_first_step_and_print_lane_by_lane(capfd):
    ran: list = []
    steps = [["gate"], ["big", "--models", "a", "b", "c"], ["small"], ["smaller"]]
    status = run_in_lanes(steps, 2, _runner(ran, {}), _child, cli.THEN)
    out, err = capfd.readouterr()
    assert status == 0
    assert ran == ["gate", "big"]  # the largest step stays here; the other lane is a child
    assert out.splitlines() == [
        "parent ran gate",
        "parent ran big",
        f"child ran small --then smaller threads {lane_threads(2)}",
    ]
    assert err.strip() == "child note"


def test_a_failed_first_step_runs_no_lane(capfd):
    ran: list = []
    steps = [["gate"], ["big", "--models", "a", "b"], ["small"]]
    status = run_in_lanes(steps, 2, _runner(ran, {"gate": 3}), _child, cli.THEN)
    assert status == 3
    assert ran == ["gate"]
    assert "child ran" not in capfd.readouterr().out


def test_a_failed_child_lane_sets_the_status_and_the_other_lane_finishes(capfd):
    ran: list = []
    steps = [["gate"], ["big", "--models", "a", "b", "c"], ["small", "4"]]
    status = run_in_lanes(steps, 2, _runner(ran, {}), _child, cli.THEN)
    assert status == 4
    assert ran == ["gate", "big"]
    assert "child ran small 4 threads" in capfd.readouterr().out


def test_lanes_share_out_the_cores(monkeypatch):
    import analysis.lanes as lanes

    monkeypatch.setattr(lanes, "default_workers", lambda: 8)
    assert [lanes.lane_threads(n) for n in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]


def test_jobs_one_runs_the_chain_in_order(monkeypatch):
    from analysis import checks_cli, compare_cli, weights_cli

    ran = []
    for module, name in ((checks_cli, "ppc"), (compare_cli, "compare"), (weights_cli, "weights")):
        monkeypatch.setattr(module, "run", lambda args, name=name: ran.append(name) or 0)
    argv = ["ppc", "--then", "compare", "--models", "m1", "m2", "--then", "weights"]
    assert cli.main(["--jobs", "1", *argv]) == 0
    assert ran == ["ppc", "compare", "weights"]
    assert cli.command_names(["--jobs", "2", *argv]) == ["ppc", "compare", "weights"]


def test_a_child_that_cannot_start_is_reported_by_its_status(capfd):
    ran: list = []
    steps = [["gate"], ["big", "--models", "a", "b", "c"], ["small"]]

    def broken(arguments: list[str]) -> list[str]:
        return [
            sys.executable,
            "-c",
            "import sys; print('cannot start', file=sys.stderr); sys.exit(5)",
        ]

    assert run_in_lanes(steps, 2, _runner(ran, {}), broken, cli.THEN) == 5
    assert ran == ["gate", "big"]
    assert "cannot start" in capfd.readouterr().err
