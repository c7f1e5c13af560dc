"""The analysis data set's schema, read from the shipped 2015 declarations.

The variables, their types, levels (reference first), labels and units are declared in
``data_prep/codebooks/cmds2015.yaml`` (its ``variables:`` section; format in
:mod:`cmds_common.declarations`). This module keeps the names the rest of the project uses:
:data:`VARIABLES`, :data:`OUTCOME`, :data:`PROVINCE`, :data:`WEIGHT`, :data:`RESPONDENT_ID`,
:func:`variable_by_name` and :func:`data_dictionary`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import pandas as pd

from cmds_common.declarations import Declaration, parse_declarations

SHIPPED_CODEBOOK = "data_prep/codebooks/cmds2015.yaml"

#: Declared type (or role) -> the kind the rest of the project reads.
KIND_OF_TYPE = {
    "binary": "binary_outcome",
    "categorical": "categorical",
    "ordinal": "categorical",
    "group": "categorical",
    "stratum": "categorical",
    "psu": "categorical",
    "continuous": "continuous",
    "count": "continuous",
    "weight": "weight",
    "id": "id",
}


@dataclass(frozen=True)
class Variable:
    """One column of the analysis data set.

    Attributes
    ----------
    name
        Column name.
    kind
        ``"categorical"``, ``"binary_outcome"``, ``"continuous"``, ``"weight"`` or ``"id"``
        (from the declared type: :data:`KIND_OF_TYPE`).
    description
        What the column holds, in words (the declared label).
    levels
        Categories in order, reference level first (categoricals only).
    unit
        Unit of a continuous variable.
    """

    name: str
    kind: str
    description: str
    levels: tuple[str, ...] = field(default_factory=tuple)
    unit: str = ""


@cache
def shipped_declarations() -> dict[str, Declaration]:
    """Return the declarations of the shipped 2015 codebook (including flow-only variables)."""
    text = resources.files("data_prep").joinpath("codebooks", "cmds2015.yaml").read_text("utf-8")
    return parse_declarations(text, SHIPPED_CODEBOOK)


@cache
def synthetic_declarations() -> dict[str, Declaration]:
    """Return the synthetic default sample's declarations: the 2015 codebook's plus its extras."""
    name = "synthetic_declarations.yaml"
    text = resources.files("data_prep").joinpath(name).read_text("utf-8")
    return {**shipped_declarations(), **parse_declarations(text, f"data_prep/{name}")}


def as_variable(decl: Declaration, with_province_levels: bool = False) -> Variable:
    """Return the :class:`Variable` view of a declaration."""
    levels = decl.ordered_levels if (with_province_levels or not decl.is_province) else ()
    if decl.type == "binary":
        levels = ()
    return Variable(decl.name, KIND_OF_TYPE[decl.type], decl.label, levels, decl.unit)


def _one(kind: str) -> str:
    names = [d.name for d in shipped_declarations().values() if d.type == kind and d.in_table]
    if len(names) != 1:
        raise ValueError(f"{SHIPPED_CODEBOOK}: expected one variable of type {kind}, got {names}")
    return names[0]


OUTCOME = _one("binary")
PROVINCE = next(d.name for d in shipped_declarations().values() if d.is_province)
WEIGHT = _one("weight")
RESPONDENT_ID = _one("id")

VARIABLES: tuple[Variable, ...] = tuple(
    as_variable(d) for d in shipped_declarations().values() if d.in_table
)


def variable_by_name() -> dict[str, Variable]:
    """Map column name to its :class:`Variable`, with province levels filled in."""
    return {
        d.name: as_variable(d, with_province_levels=True)
        for d in shipped_declarations().values()
        if d.in_table
    }


def categorical_levels(name: str) -> tuple[str, ...]:
    """Levels of a categorical variable, reference first."""
    return variable_by_name()[name].levels


def data_dictionary() -> pd.DataFrame:
    """Return the data dictionary of the analysis data set as a table.

    Returns
    -------
    pandas.DataFrame
        One row per column: ``variable``, ``type``, ``description``, ``levels``
        (reference level first), ``reference_level``, ``unit``.
    """
    rows = []
    for var in variable_by_name().values():
        rows.append(
            {
                "variable": var.name,
                "type": var.kind,
                "description": var.description,
                "levels": ", ".join(var.levels),
                "reference_level": var.levels[0] if var.levels else "",
                "unit": var.unit,
            }
        )
    return pd.DataFrame(rows)
