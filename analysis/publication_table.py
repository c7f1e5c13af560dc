"""A journal-style table of the fitted models: one row per level, grouped by variable.

The layout of a paper's regression table (Jing et al. 2019, Table 3): every categorical
variable's levels as rows under its label, the reference level as a row reading "1 (ref.)",
the number of respondents per level, continuous predictors as one row "(per year)", and one
column per model with the posterior median and 95% credible interval (odds ratios for logit
links, coefficients in outcome units for the gaussian family). Rounded as a paper would: two
decimals. A model that failed the convergence gate keeps its column, marked with a dagger and a
note saying not to read it.

Written as CSV (tidy, full precision), HTML and LaTeX (through ``great_tables``) and Word
(``.docx``, through ``python-docx``), all atomically.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analysis.odds_ratios import reporting_scale
from analysis.term_labels import TermLabeller, TermPart
from cmds_common.atomic import write_text, write_with

REFERENCE_TEXT = "1 (ref.)"
FAILED_MARK = "†"
#: Marks an estimate the data cannot identify (separation): it rests on the prior.
SEPARATED_MARK = "‡"


def _separated(estimates: pd.DataFrame) -> set[str]:
    """Terms of an estimate table whose frequentist fit found separation."""
    if "freq_note" not in estimates:
        return set()
    notes = estimates["freq_note"].fillna("").astype(str)
    return set(estimates.loc[notes.str.startswith("not estimable"), "term"].astype(str))


@dataclass(frozen=True)
class ModelColumn:
    """One model's column: its name, header, estimate table, predictors and family."""

    name: str
    label: str
    estimates: pd.DataFrame  # odds_ratio_table(): term, posterior_median_or, cri_low, cri_high
    predictors: Sequence[str]
    family: str = "bernoulli"
    converged: bool = True


def _cell(estimate: float, low: float, high: float) -> str:
    return f"{estimate:.2f} ({low:.2f}–{high:.2f})"


def _level_counts(data: pd.DataFrame | None, variable: str) -> dict[str, int]:
    if data is None or variable not in data:
        return {}
    return {str(k): int(v) for k, v in data[variable].value_counts(sort=False).items()}


def _levels(data: pd.DataFrame | None, variable: str, reference: str | None) -> list[str]:
    """Levels in the data's order with the reference first (empty for numeric columns)."""
    if (
        data is None
        or variable not in data
        or not isinstance(data[variable].dtype, pd.CategoricalDtype)
    ):
        return []
    levels = [str(level) for level in data[variable].cat.categories]
    if reference in levels:
        levels.remove(reference)
        levels.insert(0, reference)
    return levels


def publication_table(
    models: Sequence[ModelColumn], labeller: TermLabeller, data: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Build the journal-style table.

    Parameters
    ----------
    models
        The columns, in order.
    labeller
        Variable and level labels (see :mod:`analysis.term_labels`).
    data
        The analysis table, for the levels' order and the respondents per level (optional).

    Returns
    -------
    pandas.DataFrame
        Tidy rows: ``variable``, ``variable_label``, ``level``, ``level_label``, ``n``,
        ``reference`` (bool), then per model ``<model>`` (display text), ``<model>_estimate``,
        ``<model>_low``, ``<model>_high``.
    """
    order: list[tuple[str, str | None]] = []  # (variable, level) rows; level None: continuous
    interactions: list[str] = []
    estimates: dict[tuple[str, str, str | None], tuple[float, float, float]] = {}
    separated: set[str] = set()  # "<model>\0<term>" of separated terms
    for model in models:
        separated_here = _separated(model.estimates)
        for row in model.estimates.itertuples(index=False):
            try:
                parts = labeller.split(row.term, model.predictors)
            except ValueError:  # a term the spec's variables do not explain: shown by its code
                parts = []
            values = (row.posterior_median_or, row.cri_low, row.cri_high)
            if row.term in separated_here:
                separated.add(model.name + "\0" + row.term)
            if len(parts) != 1:
                key = ("", row.term, None)
                if row.term not in interactions:
                    interactions.append(row.term)
            else:
                key = (parts[0].variable, parts[0].level or "", None)
                variable = parts[0].variable
                if parts[0].level is None:
                    if (variable, None) not in order:
                        order.append((variable, None))
                else:
                    reference = labeller.reference(variable)
                    levels = _levels(data, variable, reference) or [reference, parts[0].level]
                    for level in levels:
                        if level is not None and (variable, level) not in order:
                            order.append((variable, level))
            estimates[(model.name, *key[:2])] = values
    rows = []
    for variable, level in order:
        counts = _level_counts(data, variable)
        is_reference = level is not None and level == labeller.reference(variable)
        row = {
            "variable": variable,
            "variable_label": labeller.variable(variable),
            "level": level or "",
            "level_label": (
                f"({labeller.unit(variable)})" if level is None else labeller.level(variable, level)
            ),
            "n": counts.get(level, float("nan"))
            if level
            else (
                int(data[variable].notna().sum()) if data is not None and variable in data else None
            ),
            "reference": is_reference,
        }
        for model in models:
            found = estimates.get((model.name, variable, level or ""))
            if is_reference and any(p == variable for p in model.predictors):
                row[model.name] = REFERENCE_TEXT.replace("ref.", labeller.word("ref."))
                row.update({f"{model.name}_{k}": 1.0 for k in ("estimate", "low", "high")})
            elif found is not None:
                term = variable if not level else f"{variable}_{level}"
                mark = SEPARATED_MARK if f"{model.name}\0{term}" in separated else ""
                row[model.name] = _cell(*found) + mark
                row.update(
                    dict(
                        zip(
                            (f"{model.name}_{k}" for k in ("estimate", "low", "high")),
                            found,
                            strict=True,
                        )
                    )
                )
            else:
                row[model.name] = ""
        rows.append(row)
    for term in interactions:
        first = next(m for m in models if (m.name, "", term) in estimates)
        try:
            parts = labeller.split(term, first.predictors)
            text = " × ".join(labeller.part(TermPart(p.variable, p.level), False) for p in parts)
        except ValueError:
            text = term
        row = {
            "variable": "interactions",
            "variable_label": "Interactions and other terms",
            "level": term,
            "level_label": text,
            "n": None,
            "reference": False,
        }
        for model in models:
            found = estimates.get((model.name, "", term))
            row[model.name] = _cell(*found) if found else ""
        rows.append(row)
    return pd.DataFrame(rows)


def _headers(models: Sequence[ModelColumn]) -> dict[str, str]:
    headers = {}
    for model in models:
        scale = reporting_scale(model.family)[0]
        short = {"odds ratio": "OR", "cumulative odds ratio": "cumulative OR"}.get(scale, "coef.")
        mark = FAILED_MARK if not model.converged else ""
        headers[model.name] = f"{model.label}{mark}: {short} (95% CrI)"
    return headers


def _notes(models: Sequence[ModelColumn]) -> list[str]:
    notes = [
        "Posterior median and equal-tailed 95% credible interval; 1 (ref.): the reference level; "
        "n: respondents per level."
    ]
    if any(_separated(m.estimates) for m in models):
        notes.append(
            f"{SEPARATED_MARK} Separation: every respondent with this level has the same outcome, "
            "so the data cannot estimate it (the weighted logit gives none); the Bayesian "
            "estimate rests on its prior. Do not interpret it."
        )
    failed = [m.label for m in models if not m.converged]
    if failed:
        notes.append(
            f"{FAILED_MARK} {', '.join(failed)} did not pass the convergence gate (R-hat, ESS, "
            "divergences): do not interpret these numbers; refit with more draws."
        )
    return notes


def display_frame(table: pd.DataFrame, models: Sequence[ModelColumn]) -> pd.DataFrame:
    """Return the table as shown: variable, level, n and one text column per model."""
    shown = table[["variable_label", "level_label", "n", *[m.name for m in models]]].copy()
    shown["n"] = [("" if pd.isna(n) else f"{int(n):,}") for n in shown["n"]]
    return shown.rename(columns={"variable_label": "Variable", "level_label": "Level"})


def great_table(table: pd.DataFrame, models: Sequence[ModelColumn], title: str):
    """Return the ``great_tables.GT`` of the table (rows grouped by variable)."""
    import great_tables as gt

    shown = display_frame(table, models)
    headers = _headers(models)
    result = (
        gt.GT(shown, rowname_col="Level", groupname_col="Variable")
        .tab_header(title=title)
        .cols_label(**headers)
        .cols_align(align="right", columns=["n", *headers])
    )
    for note in _notes(models):
        result = result.tab_source_note(note)
    return result


def write_docx(path: Path, table: pd.DataFrame, models: Sequence[ModelColumn], title: str) -> None:
    """Write the table as a Word document (``python-docx``), atomically."""
    import docx
    from docx.shared import Pt

    shown = display_frame(table, models)
    headers = _headers(models)
    document = docx.Document()
    document.add_heading(title, level=2)
    columns = ["Level", "n", *headers]
    grid = document.add_table(rows=1, cols=len(columns))
    grid.style = "Table Grid"
    for cell, name in zip(grid.rows[0].cells, ["", "n", *headers.values()], strict=True):
        cell.text = name
    current = None
    for row in shown.itertuples(index=False):
        if row.Variable != current:
            current = row.Variable
            group = grid.add_row().cells
            group[0].merge(group[-1]).text = str(current)
            group[0].paragraphs[0].runs[0].bold = True
        cells = grid.add_row().cells
        values = [row.Level, row.n, *[getattr(row, name) for name in headers]]
        for cell, value in zip(cells, values, strict=True):
            cell.text = str(value)
    for note in _notes(models):
        paragraph = document.add_paragraph(note)
        paragraph.runs[0].font.size = Pt(8)
    write_with(path, lambda p: document.save(str(p)))


def write_publication_table(
    out_dir: Path,
    models: Sequence[ModelColumn],
    labeller: TermLabeller,
    data: pd.DataFrame | None = None,
    title: str = "Posterior estimates by model",
    stem: str = "publication_table",
) -> Mapping[str, Path]:
    """Write ``<stem>.csv``, ``.html``, ``.tex`` and ``.docx`` into ``out_dir``.

    Returns
    -------
    dict
        Format -> path written.
    """
    table = publication_table(models, labeller, data)
    styled = great_table(table, models, title)
    paths = {fmt: out_dir / f"{stem}.{fmt}" for fmt in ("csv", "html", "tex", "docx")}
    write_with(paths["csv"], lambda p: table.to_csv(p, index=False))
    write_text(paths["html"], styled.as_raw_html())
    write_text(paths["tex"], styled.as_latex())
    write_docx(paths["docx"], table, models, title)
    return paths
