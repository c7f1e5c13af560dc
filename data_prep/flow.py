"""The inclusion flow, declared as data: steps read from a codebook's (or study's) ``flow:``.

Each step is one of::

    - count: respondents in the file       # records how many are left (label = the text)
      needs: [province, health_record]     # optional: variables every run of the study needs
    - drop: age_years < 60                 # removes those for whom the condition holds
      label: "excluded: under 60"          #   (a missing value never satisfies a condition)
    - keep: years_in_inflow_area >= 0.5    # keeps only those for whom it holds
    - drop_incomplete: true                # removes those missing an item the models need
      published: 281                       # the published count of the step, when there is one

Conditions are pandas expressions (``DataFrame.eval``) over the declared variables and the
codebook's items (a variable shadows an item of the same name), e.g.
``health_record_answer == 'not_clear'``. Names in a condition are checked when the codebook is
loaded, with the line to edit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

ACTIONS = ("count", "drop", "keep", "drop_incomplete")
_NOT_NAMES = {"and", "or", "not", "in", "True", "False", "None", "isna", "notna"}


class FlowError(ValueError):
    """A flow step that cannot be read or applied; names the file and line."""


@dataclass(frozen=True)
class FlowStep:
    """One step of an inclusion flow."""

    action: str
    label: str
    condition: str = ""
    published: int | None = None
    needs: tuple[str, ...] = ()
    file: str = ""
    line: int = 0

    def where(self) -> str:
        """``"<file> line N"``, for messages."""
        return f"{self.file} line {self.line}"


def condition_names(condition: str) -> list[str]:
    """Names a condition refers to (quoted text and keywords left out)."""
    unquoted = re.sub(r"'[^']*'|\"[^\"]*\"", " ", condition)
    names = re.findall(r"(?<![\w.])([A-Za-z_]\w*)", unquoted)
    return [n for n in dict.fromkeys(names) if n not in _NOT_NAMES]


def parse_flow(
    steps: object, lines: list[int], file: str, names: set[str]
) -> tuple[list[FlowStep], list[str]]:
    """Read the ``flow:`` list; return the steps and the problems found (with file lines).

    Parameters
    ----------
    steps
        The YAML list.
    lines
        File line of each step.
    file
        The file, for messages.
    names
        Variables and items a condition may use.
    """
    problems: list[str] = []
    parsed: list[FlowStep] = []
    if not isinstance(steps, list):
        return [], [f"{file}: 'flow:' must be a list of steps"]
    for k, step in enumerate(steps):
        line = lines[k] if k < len(lines) else 0
        where = f"{file} line {line}"
        actions = [a for a in ACTIONS if isinstance(step, dict) and a in step]
        if len(actions) != 1:
            problems.append(f"{where}: a flow step needs exactly one of {list(ACTIONS)}")
            continue
        action = actions[0]
        condition = "" if action in ("count", "drop_incomplete") else str(step[action])
        unknown = [n for n in condition_names(condition) if n not in names]
        if unknown:
            problems.append(
                f"{where}: the condition {condition!r} names {unknown}, which are neither "
                "declared variables nor items"
            )
        needs = tuple(str(n) for n in step.get("needs") or ())
        problems += [
            f"{where}: needs {n!r}, which is not declared" for n in needs if n not in names
        ]
        default = {
            "count": str(step.get("count")),
            "drop": f"excluded: {condition}",
            "keep": f"excluded: not {condition}",
            "drop_incomplete": "excluded: missing answers the models need",
        }[action]
        published = step.get("published")
        parsed.append(
            FlowStep(
                action=action,
                label=str(step.get("label") or default),
                condition=condition,
                published=None if published is None else int(published),
                needs=needs,
                file=file,
                line=line,
            )
        )
    return parsed, problems


def flow_variables(steps: list[FlowStep]) -> list[str]:
    """Variables the flow itself uses: its ``needs`` and the names in its conditions."""
    names: list[str] = []
    for step in steps:
        names += [*step.needs, *condition_names(step.condition)]
    return list(dict.fromkeys(names))


def flow_table(steps: list[tuple[str, int, int | None]]) -> pd.DataFrame:
    """Inclusion-flow table: step, n, and the published n where the paper gives one."""
    flow = pd.DataFrame(steps, columns=["step", "n", "published_n"])
    flow["published_n"] = flow["published_n"].astype("Int64")
    return flow


def apply_flow(
    space: pd.DataFrame, steps: list[FlowStep], incomplete: pd.Series
) -> tuple[pd.Index, pd.DataFrame]:
    """Apply the steps to the respondents of ``space``.

    Parameters
    ----------
    space
        Variables and items, one row per respondent of the file.
    steps
        The flow.
    incomplete
        Per respondent: an item the models need is missing.

    Returns
    -------
    tuple
        The index of the respondents kept, and the flow table.
    """
    kept = space.index
    rows: list[tuple[str, int, int | None]] = []
    for step in steps:
        if step.action == "count":
            rows.append((step.label, len(kept), step.published))
            continue
        current = space.loc[kept]
        if step.action == "drop_incomplete":
            out = incomplete.loc[kept].to_numpy(bool)
        else:
            try:
                holds = current.eval(step.condition, engine="python")
            except Exception as err:
                raise FlowError(f"{step.where()}: cannot apply {step.condition!r}: {err}") from err
            holds = pd.Series(holds, index=current.index).fillna(False).astype(bool)
            out = holds.to_numpy() if step.action == "drop" else ~holds.to_numpy()
        rows.append((step.label, int(out.sum()), step.published))
        kept = kept[~out]
    return kept, flow_table(rows)
