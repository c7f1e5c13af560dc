"""Design-stage check that each requested spec can be estimated on the analysis table.

Run on the analysis table before anything is written (``python -m data_prep``) and again before
fitting (``python -m models``), so that a category with no respondents or a design matrix without
full rank gives a message naming the spec and the term, never a ``LinAlgError`` from the fit.

Pure pandas/NumPy: a spec is read through its attributes ``name``, ``outcome``, ``predictors``,
``reference_levels``, ``group`` and ``weights`` (a :class:`models.spec.ModelSpec`), so this
module does not import the model code.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pandas as pd

from data_prep.validation import ERROR, Finding

#: A column counts as a combination of the columns before it when the part of it they do not
#: explain (QR without pivoting: the diagonal of R) is below this share of its length.
RANK_TOLERANCE = 1e-8


class SpecLike(Protocol):
    """The parts of a model spec the check reads."""

    name: str
    outcome: str
    predictors: tuple[str, ...]
    reference_levels: dict[str, str]
    group: str | None
    weights: str | None


def _error(spec: SpecLike, variable: str, level: str, n: int, message: str) -> Finding:
    return Finding(ERROR, "design", f"model {spec.name}", variable, level, n, "", message)


def _categorical_columns(
    spec: SpecLike, variable: str, values: pd.Series, found: list[Finding]
) -> tuple[list[np.ndarray], list[str]]:
    levels = [str(v) for v in values.cat.categories]
    counts = values.astype(str).where(values.notna()).value_counts()
    reference = spec.reference_levels.get(variable, levels[0] if levels else "")
    if reference not in levels:
        found.append(
            _error(
                spec,
                variable,
                reference,
                0,
                f"model {spec.name!r}: reference level {reference!r} of term {variable!r} is "
                f"not one of {levels}",
            )
        )
        return [], []
    empty = [lv for lv in levels if counts.get(lv, 0) == 0]
    if empty:
        shares = ", ".join(f"{lv}: {counts.get(lv, 0)}" for lv in levels)
        found.append(
            _error(
                spec,
                variable,
                ", ".join(empty),
                0,
                f"model {spec.name!r}, term {variable!r}: level(s) {empty} have no respondents "
                f"in the analysed data (respondents per level: {shares}), so their odds ratios "
                f"cannot be estimated; merge the level with a neighbour in your data or "
                f"codebook, or leave {variable!r} out of the formula",
            )
        )
        return [], []
    columns = [(values == lv).to_numpy(dtype=float) for lv in levels if lv != reference]
    return columns, [f"{variable}_{lv}" for lv in levels if lv != reference]


def design_findings(table: pd.DataFrame, spec: SpecLike) -> list[Finding]:
    """Check that ``spec`` can be estimated on ``table``.

    Parameters
    ----------
    table
        The typed analysis table (categoricals as ``pandas.Categorical``).
    spec
        A model spec.

    Returns
    -------
    list of Finding
        Errors naming the spec and the term: missing columns, reference levels that do not
        exist, levels without respondents, a single group, a constant outcome, and terms that
        are linear combinations of others (a design matrix without full rank).
    """
    message = spec.missing_columns_message(list(table.columns))
    if message:
        missing = [c for c in spec.used_columns() if c not in table.columns]
        return [_error(spec, ", ".join(missing), "", 0, message)]
    found: list[Finding] = []
    y = pd.to_numeric(table[spec.outcome], errors="coerce")
    if y.nunique() < 2:
        found.append(
            _error(
                spec,
                spec.outcome,
                _values(y),
                len(y),
                f"model {spec.name!r}: outcome {spec.outcome!r} takes one value only "
                f"({_values(y)}); there is nothing to model",
            )
        )
    if spec.group:
        present = table[spec.group].dropna().astype(str).unique()
        if len(present) < 2:
            found.append(
                _error(
                    spec,
                    spec.group,
                    ", ".join(present),
                    len(table),
                    f"model {spec.name!r}: the group term (1 | {spec.group}) needs at least 2 "
                    f"{spec.group} values, the data has {list(present)}; use a pooled spec",
                )
            )
    columns, terms = [np.ones(len(table))], ["intercept"]
    for variable in spec.predictors:
        values = table[variable]
        if isinstance(values.dtype, pd.CategoricalDtype):
            new_columns, new_terms = _categorical_columns(spec, variable, values, found)
        else:
            numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            new_columns, new_terms = [numeric - np.nanmean(numeric)], [variable]
        columns += new_columns
        terms += new_terms
    if not any(f.variable in spec.predictors for f in found):
        found += _rank_findings(spec, np.column_stack(columns), terms)
    return found


def _values(series: pd.Series) -> str:
    return ", ".join(str(v) for v in sorted(series.dropna().unique().tolist()))


def _rank_findings(spec: SpecLike, X: np.ndarray, terms: list[str]) -> list[Finding]:
    """Terms whose column is a linear combination of the intercept and the terms before it."""
    if not np.isfinite(X).all():
        return []  # gaps are reported by the data checks
    r = np.linalg.qr(X, mode="r")
    norms = np.linalg.norm(X, axis=0)
    residual = np.abs(np.diag(r))
    dependent = [
        term
        for term, left, norm in zip(terms, residual, norms, strict=True)
        if norm == 0 or left <= RANK_TOLERANCE * norm
    ]
    if not dependent:
        return []
    return [
        _error(
            spec,
            ", ".join(dependent),
            "",
            0,
            f"model {spec.name!r}: term(s) {dependent} are constant or a linear combination of "
            f"the terms before them in the formula ({', '.join(terms[1:])}), so the design "
            "matrix does not have full rank; drop or merge them",
        )
    ]
