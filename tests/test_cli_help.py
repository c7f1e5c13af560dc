"""Every command-line option says what it does (and, through argparse, its default)."""

from __future__ import annotations

import argparse

import pytest

from analysis.cli import build_parser as analysis_parser
from data_prep.build_cli import build_parser as data_parser
from models.fit_cli import build_parser as models_parser


def _options_without_help(parser: argparse.ArgumentParser, name: str) -> list[str]:
    missing = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            for command, sub in action.choices.items():
                missing += _options_without_help(sub, f"{name} {command}")
            continue
        if not action.help:
            missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    return missing


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("python -m models", models_parser),
        ("python -m analysis", analysis_parser),
        ("python -m data_prep", data_parser),
    ],
)
def test_every_option_has_help(name, build):
    assert _options_without_help(build(), name) == []


def test_defaults_are_shown(capsys):
    with pytest.raises(SystemExit):
        models_parser().parse_args(["--help"])
    assert "(default: 20150501)" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("argv", [["ppc", "--help"], ["--help"], ["compare", "--help"]])
def test_options_without_a_default_do_not_say_none(capsys, argv):
    with pytest.raises(SystemExit):
        analysis_parser().parse_args(argv)
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in text
    if argv[0] == "--help":
        assert "--then" in text


@pytest.mark.parametrize(
    ("option", "value", "minimum"),
    [("--tune", "-1", 0), ("--draws", "0", 1), ("--chains", "two", 1), ("--prior-draws", "-5", 0)],
)
def test_sampler_counts_out_of_range_are_usage_errors(capsys, option, value, minimum):
    """A bad count on the command line (as `make fit TUNE=-1` passes it) is a usage error
    naming the option and the allowed range, exit status 2, not a traceback."""
    with pytest.raises(SystemExit) as stopped:
        models_parser().parse_args([option, value])
    assert stopped.value.code == 2
    message = " ".join(capsys.readouterr().err.split())
    assert f"argument {option}: must be a whole number >= {minimum}, got '{value}'" in message


def test_sampler_counts_in_range_are_read_as_numbers():
    args = models_parser().parse_args(["--tune", "0", "--draws", "250", "--max-extra-batches", "0"])
    assert (args.tune, args.draws, args.max_extra_batches) == (0, 250, 0)


def test_then_splits_a_command_line_into_steps(capsys):
    from analysis.cli import split_steps

    assert split_steps(["ppc", "--models", "m1", "--then", "compare", "--models", "m1", "m2"]) == [
        ["ppc", "--models", "m1"],
        ["compare", "--models", "m1", "m2"],
    ]
    assert split_steps(["--models", "m1"]) == [["--models", "m1"]]
    for misplaced in (["--then", "ppc"], ["ppc", "--then"], ["ppc", "--then", "--then", "weights"]):
        with pytest.raises(SystemExit) as stop:
            split_steps(misplaced)
        assert stop.value.code == 2
        assert "--then must stand between two commands" in capsys.readouterr().err


def test_then_runs_steps_in_order_and_stops_at_the_first_failure(monkeypatch):
    from analysis import checks_cli, cli, compare_cli, weights_cli

    ran = []

    def recorder(name, status):
        def run(args: argparse.Namespace) -> int:
            ran.append((name, args.models if hasattr(args, "models") else None))
            return status

        return run

    monkeypatch.setattr(checks_cli, "run", recorder("ppc", 0))
    monkeypatch.setattr(compare_cli, "run", recorder("compare", 2))
    monkeypatch.setattr(weights_cli, "run", recorder("weights", 0))
    status = cli.main(
        ["ppc", "--models", "m1", "--then", "compare", "--models", "m1", "m2", "--then", "weights"]
    )
    assert status == 2
    assert ran == [("ppc", ["m1"]), ("compare", ["m1", "m2"])]  # weights never ran
    assert cli.command_names(["--models", "m1", "--then", "grid"]) == ["summarize", "grid"]
