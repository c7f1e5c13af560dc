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
