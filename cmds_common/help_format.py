"""Help layout shared by the command lines (``python -m data_prep``, ``models``, ``analysis``)."""

from __future__ import annotations

import argparse


class DefaultsHelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """argparse's help with ``(default: ...)`` appended, except where there is no default.

    An option whose default is ``None`` (its help says what happens when it is left out) would
    otherwise end in ``(default: None)``.
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None:
            return action.help
        return super()._get_help_string(action)
