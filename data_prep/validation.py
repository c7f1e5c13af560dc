"""One validation contract for both input paths: raw survey files and coded tables.

Once a file is decoded (through a codebook, or read as a coded table) the same checks run on the
analysis table, whichever path it came by. Each check gives :class:`Finding` records that say
whether they are an error (nothing is written) or a warning (written to ``data_warnings.csv``,
printed, and shown in the report), and name the file, column, values and rows.

======================  ========  ===========================================================
check                   severity  rule
======================  ========  ===========================================================
weight                  error     weights must be finite and >= 0
zero_weight             warning   respondents with weight 0 are outside the population the
                                  weights describe: dropped, counted in the inclusion flow
duplicate_id            error     a respondent id (coded column or codebook item) repeats
duplicate_rows          warning   rows that are exact copies of another row of the file
small_province          warning   provinces with fewer than :data:`SMALL_PROVINCE` respondents
province_outcome        warning   provinces where every respondent has the same outcome
single_province         warning   only one province (an error for specs with a province term)
empty_level             warning   a category level with no respondents (an error for specs that
                                  use the variable: see :mod:`data_prep.design_check`)
separation              warning   a category level whose respondents all share one outcome
quantile_groups         warning   quantile groups far from equal shares (ties kept together)
declared_missing        warning   values the file itself declares missing (SPSS user-missing):
                                  the codebook, not the file, decides what they mean
======================  ========  ===========================================================

Row numbers are file lines as a CSV export would number them: line 1 is the header, the first
respondent is line 2.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from cmds_common.declarations import Declaration, province_column
from cmds_common.survey_weights import weight_summary
from data_prep import variables

#: Provinces with fewer respondents than this are flagged (their effects rest on the prior).
SMALL_PROVINCE = 10

ERROR = "error"
WARNING = "warning"

#: Columns of ``data_warnings.csv``.
WARNING_COLUMNS = ["severity", "kind", "file", "variable", "level", "n", "rows", "message"]


class DataValidationError(ValueError):
    """Data that breaks the validation contract; the message lists every error found."""


@dataclass(frozen=True)
class Finding:
    """One result of a check: an error stops the run, a warning is reported and kept.

    Attributes
    ----------
    severity
        ``"error"`` or ``"warning"``.
    kind
        The check that produced it (first column of the module's table).
    file
        The input file (or spec) concerned.
    variable
        The column (analysis variable, or the raw column for file-level checks).
    level
        The value(s) concerned, as text.
    n
        How many respondents it concerns.
    rows
        File lines of those respondents ("5, 17 and 3 more").
    message
        The finding in words, with what to do about it.
    """

    severity: str
    kind: str
    file: str
    variable: str
    level: str
    n: int
    rows: str
    message: str

    def __str__(self) -> str:
        where = f" (rows {self.rows})" if self.rows else ""
        return f"{self.message}{where}"


def line_numbers(mask: np.ndarray | pd.Series, lines: np.ndarray, limit: int = 5) -> str:
    """File lines where ``mask`` is true, e.g. ``"2, 7 and 3 more"``."""
    chosen = np.asarray(lines)[np.asarray(mask, dtype=bool)].tolist()
    shown = ", ".join(map(str, chosen[:limit]))
    return shown + (f" and {len(chosen) - limit} more" if len(chosen) > limit else "")


def default_lines(n: int) -> np.ndarray:
    """File lines of ``n`` rows read in order (header on line 1)."""
    return np.arange(n) + 2


def errors(findings: list[Finding]) -> list[Finding]:
    """Return the findings that stop the run."""
    return [f for f in findings if f.severity == ERROR]


def raise_for_errors(findings: list[Finding], source: str) -> None:
    """Raise :class:`DataValidationError` listing every error among ``findings``."""
    found = errors(findings)
    if found:
        lines = "\n".join(f"  - {f}" for f in found)
        raise DataValidationError(f"{source}: {len(found)} problem(s) with the data:\n{lines}")


def warnings_frame(findings: list[Finding]) -> pd.DataFrame:
    """Return the warnings among ``findings`` as the ``data_warnings.csv`` table."""
    rows = [asdict(f) for f in findings if f.severity != ERROR]
    return pd.DataFrame(rows, columns=WARNING_COLUMNS)


def _shown(values: list[object], limit: int = 8) -> str:
    text = [f"{v:g}" if isinstance(v, float) else str(v) for v in values]
    return ", ".join(text[:limit]) + (f" and {len(text) - limit} more" if len(text) > limit else "")


# --- checks on the file as read ------------------------------------------------------------------


def duplicate_rows(
    data: pd.DataFrame, source: str, compared: str = "(all columns)"
) -> list[Finding]:
    """Rows of the file that are exact copies of an earlier row (warning).

    ``compared`` says which columns were compared (a raw file is read with its codebook's
    columns only).
    """
    later = data.duplicated(keep="first")
    if not later.any():
        return []
    lines = default_lines(len(data))
    every = data.duplicated(keep=False)
    positions = data[every].assign(_position=np.flatnonzero(every.to_numpy()))
    first_of = positions.groupby(list(data.columns), dropna=False, sort=False)["_position"]
    pairs = []
    for rows in first_of.apply(list).head(3):
        pairs.append(" = ".join(str(lines[r]) for r in rows))
    n = int(later.sum())
    return [
        Finding(
            WARNING,
            "duplicate_rows",
            source,
            compared,
            "",
            n,
            line_numbers(later, lines),
            f"{source}: {n} rows are exact copies of an earlier row (e.g. lines "
            f"{'; '.join(pairs)}); if they are the same respondent entered twice, remove the "
            "copies, otherwise add a respondent id column to tell them apart",
        )
    ]


def duplicate_ids(ids: pd.Series, source: str, column: str) -> list[Finding]:
    """Find respondent ids that repeat or are empty (errors)."""
    lines = default_lines(len(ids))
    found = []
    missing = ids.isna().to_numpy()
    if missing.any():
        found.append(
            Finding(
                ERROR,
                "duplicate_id",
                source,
                column,
                "",
                int(missing.sum()),
                line_numbers(missing, lines),
                f"{source}: column {column!r} (respondent id) has {int(missing.sum())} empty ids",
            )
        )
    repeated = (ids.duplicated(keep=False) & ~ids.isna()).to_numpy()
    if repeated.any():
        values = sorted(set(ids[repeated].tolist()))
        found.append(
            Finding(
                ERROR,
                "duplicate_id",
                source,
                column,
                _shown(values),
                int(repeated.sum()),
                line_numbers(repeated, lines),
                f"{source}: column {column!r} (respondent id) repeats ids {_shown(values)}; "
                "each respondent needs a unique id",
            )
        )
    return found


# --- checks on the decoded analysis table --------------------------------------------------------


def bad_weights(weight: np.ndarray) -> np.ndarray:
    """Weights that break the rule (negative or non-finite); gaps and zeros are not flagged."""
    return ~np.isnan(weight) & (~np.isfinite(weight) | (weight < 0))


def weight_rule(
    table: pd.DataFrame, lines: np.ndarray, source: str
) -> tuple[pd.DataFrame, np.ndarray, list[Finding]]:
    """Apply the weight rule: weights finite and >= 0; weight-0 respondents dropped.

    Returns
    -------
    tuple
        The table without weight-0 rows, their file lines, and the findings (an error for
        negative or non-finite weights, a warning with the count for weight 0).
    """
    if variables.WEIGHT not in table.columns:
        return table, lines, []
    weight = pd.to_numeric(table[variables.WEIGHT], errors="coerce").to_numpy(dtype=float)
    given = ~np.isnan(weight)
    bad = bad_weights(weight)
    found = []
    if bad.any():
        found.append(
            Finding(
                ERROR,
                "weight",
                source,
                variables.WEIGHT,
                _shown(sorted(set(weight[bad].tolist()))),
                int(bad.sum()),
                line_numbers(bad, lines),
                f"{source}: column 'weight' has values {_shown(sorted(set(weight[bad].tolist())))}"
                "; weights must be finite numbers > 0 (0 drops the respondent)",
            )
        )
    zero = given & (weight == 0)
    if zero.any():
        n = int(zero.sum())
        found.append(
            Finding(
                WARNING,
                "zero_weight",
                source,
                variables.WEIGHT,
                "0",
                n,
                line_numbers(zero, lines),
                f"{n} respondents with weight 0 were dropped: a weight of 0 puts them outside "
                "the population the weights describe (every model, weighted or not, uses the "
                "same respondents)",
            )
        )
        keep = ~zero
        table = table.loc[keep].reset_index(drop=True)
        lines = np.asarray(lines)[keep]
    if not bad.any() and len(table):
        spread = weight_summary(table[variables.WEIGHT].to_numpy(float))
        if spread["weights_unreliable"]:
            found.append(
                Finding(
                    WARNING,
                    "unequal_weights",
                    source,
                    variables.WEIGHT,
                    f"max/median {spread['max_median_ratio']:.3g}",
                    int(spread["n"]),
                    "",
                    str(spread["weights_message"]),
                )
            )
    return table, lines, found


def province_findings(
    table: pd.DataFrame, lines: np.ndarray, source: str, column: str = variables.PROVINCE
) -> list[Finding]:
    """Small provinces, provinces where everyone has the same outcome, a single province."""
    province = table[column].astype(str).where(table[column].notna())
    outcome = pd.to_numeric(table[variables.OUTCOME], errors="coerce")
    sizes = province.value_counts()
    found = []
    if len(sizes) == 1:
        found.append(
            Finding(
                WARNING,
                "single_province",
                source,
                variables.PROVINCE,
                str(sizes.index[0]),
                int(sizes.iloc[0]),
                "",
                f"only one province ({sizes.index[0]}) in the data: specs with a province term "
                "cannot be fitted (a pooled spec can)",
            )
        )
        return found
    small = sizes[sizes < SMALL_PROVINCE]
    if len(small):
        listed = ", ".join(f"{p} ({n})" for p, n in sorted(small.items()))
        found.append(
            Finding(
                WARNING,
                "small_province",
                source,
                variables.PROVINCE,
                ", ".join(sorted(small.index)),
                int(small.sum()),
                line_numbers(province.isin(small.index), lines),
                f"{len(small)} provinces have fewer than {SMALL_PROVINCE} respondents: {listed}; "
                "their estimates lean on the other provinces",
            )
        )
    share = outcome.groupby(province).mean()
    for value, words in ((0.0, "no respondent has"), (1.0, "every respondent has")):
        same = sorted(share[share == value].index)
        if same:
            members = province.isin(same)
            found.append(
                Finding(
                    WARNING,
                    "province_outcome",
                    source,
                    variables.PROVINCE,
                    ", ".join(same),
                    int(members.sum()),
                    line_numbers(members, lines),
                    f"{words} a health record in provinces {same}: the multilevel models "
                    "shrink these provinces towards the others; their own rates rest on few "
                    "data (a pooled or fixed-effect model would not be identified)",
                )
            )
    return found


def level_findings(
    table: pd.DataFrame, source: str, declarations: dict[str, Declaration] | None = None
) -> list[Finding]:
    """Category levels with no respondents, and levels that perfectly predict the outcome."""
    declarations = declarations or variables.shipped_declarations()
    outcome = table[variables.OUTCOME]
    found = []
    for name, column in table.items():
        decl = declarations.get(name)
        if decl is None or decl.type not in ("categorical", "ordinal") or decl.is_province:
            continue
        var = variables.as_variable(decl)
        if not var.levels:
            continue
        counts = column.value_counts()
        empty = [level for level in var.levels if counts.get(level, 0) == 0]
        if empty and column.notna().any():
            found.append(
                Finding(
                    WARNING,
                    "empty_level",
                    source,
                    name,
                    ", ".join(empty),
                    0,
                    "",
                    f"no respondent has {name} = {', '.join(empty)} (levels "
                    f"{', '.join(f'{lv} {counts.get(lv, 0)}' for lv in var.levels)}): a model "
                    f"with {name} cannot estimate it",
                )
            )
        for level, share in outcome.groupby(column, observed=True).mean().items():
            if share in (0.0, 1.0):
                n = int((column == level).sum())
                found.append(
                    Finding(
                        WARNING,
                        "separation",
                        source,
                        name,
                        str(level),
                        n,
                        "",
                        f"all {n} respondents with {name} = {level} have health_record = "
                        f"{int(share)}: its odds ratio is not identified by the data alone",
                    )
                )
    return found


def check_table(
    table: pd.DataFrame,
    lines: np.ndarray,
    source: str,
    declarations: dict[str, Declaration] | None = None,
) -> tuple[pd.DataFrame, list[Finding]]:
    """Run the contract's table checks on a decoded analysis table.

    Parameters
    ----------
    table
        The typed analysis table (from either input path).
    lines
        File line of each row of ``table``.
    source
        The input file, for messages.
    declarations
        The table's declarations (default: the shipped 2015 ones); the province is the column
        declared ``levels: provinces``.

    Returns
    -------
    tuple
        The table after the weight rule (weight-0 rows dropped) and every finding.
    """
    declarations = declarations or variables.shipped_declarations()
    table, lines, found = weight_rule(table, lines, source)
    province = province_column(declarations) or variables.PROVINCE
    if province in table and variables.OUTCOME in table and len(table):
        found += province_findings(table, lines, source, province)
    if variables.OUTCOME in table:
        found += level_findings(table, source, declarations)
    return table, found
