"""Forest plot: Bayesian, frequentist and published odds ratios for each term."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

_SOURCES = (
    (
        "posterior_median_or",
        "cri_low",
        "cri_high",
        "Bayesian multilevel (median, 95% CrI)",
        "C0",
        "o",
    ),
    ("freq_or", "freq_ci_low", "freq_ci_high", "Weighted logit, this data (OR, 95% CI)", "C1", "s"),
    (
        "published_or",
        "published_ci_low",
        "published_ci_high",
        "Published, Jing et al. 2019",
        "0.3",
        "D",
    ),
)

#: The axis never extends beyond 1/AXIS_CAP-AXIS_CAP: an estimate beyond is marked at the edge.
AXIS_CAP = 50.0
_TICKS = (0.02, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 10, 20, 50)


def _axis_range(table: pd.DataFrame, sources: tuple) -> tuple[float, float]:
    """Log-axis limits covering every interval, but never beyond 1/AXIS_CAP-AXIS_CAP.

    Terms flagged as separated are left out: their estimates (any source) rest on the prior or
    run off to infinity, and would squeeze every other term into a corner.
    """
    if "freq_note" in table:
        flagged = [isinstance(note, str) and bool(note) for note in table["freq_note"]]
        table = table.loc[~np.array(flagged, dtype=bool)]
    values = table[[c for s in sources for c in s[:3]]].to_numpy(float)
    values = values[np.isfinite(values) & (values > 0)]
    if not len(values):
        return 0.5, 2.0
    lo = max(min(values.min(), 1.0) / 1.15, 1 / AXIS_CAP)
    hi = min(max(values.max(), 1.0) * 1.15, AXIS_CAP)
    return lo, hi


def _mark_untrusted(ax, table: pd.DataFrame, y: np.ndarray, est: str, colour: str, lo, hi) -> None:
    """Write "not estimable" where a term has no estimate, arrows where one is off the axis."""
    note_column = "freq_note" if est == "freq_or" else None
    for row, position in zip(table.itertuples(index=False), y, strict=True):
        value = getattr(row, est)
        note = getattr(row, note_column, "") if note_column else ""
        if isinstance(note, str) and note:
            ax.annotate(
                "not estimable (separation)",
                xy=(0.99, position),
                xycoords=("axes fraction", "data"),
                ha="right",
                va="center",
                fontsize=7.5,
                color=colour,
            )
        elif np.isfinite(value) and not lo <= value <= hi:
            edge, marker = (hi, ">") if value > hi else (lo, "<")
            ax.plot([edge], [position], marker=marker, color=colour, markersize=7, clip_on=False)
            ax.annotate(
                f"{value:.3g}",
                xy=(edge, position),
                xytext=(-10 if value > hi else 10, 5),
                textcoords="offset points",
                ha="right" if value > hi else "left",
                fontsize=7,
                color=colour,
            )


#: How a term label opens its reference level (English, Chinese; see analysis.term_labels).
_REFERENCE_OPENINGS = (" (ref: ", " (参照: ")


def wrap_term_label(label: str, width: int = 44) -> str:
    """Break a term label into lines: "Variable: Level", its reference on a line of its own.

    A long "Variable: Level" breaks after the variable; "(ref: ...)" always takes its own
    last line, so the reference never runs into the level or the axis. Interactions
    ("A × B") break after each part's variable only when long.
    """
    if " × " not in label:
        for opening in _REFERENCE_OPENINGS:
            main, found, reference = label.rpartition(opening)
            if found:
                return f"{wrap_term_label(main, width)}\n({opening.removeprefix(' (')}{reference}"
    if len(label) <= width or ": " not in label:
        return label
    return label.replace(": ", ":\n", 1)


def forest_plot(
    table: pd.DataFrame,
    title: str,
    sources: tuple[tuple[str, str, str, str, str, str], ...] = _SOURCES,
    bayes_label: str | None = None,
    failed: bool = False,
) -> Figure:
    """Draw up to three estimates per term on a log odds-ratio axis.

    Parameters
    ----------
    table
        Output of :func:`analysis.odds_ratios.odds_ratio_table` (or any table with the columns
        named in ``sources``).
    title
        Figure title.
    sources
        Per estimate: estimate, low and high columns, legend label, colour, marker.

    ``bayes_label`` replaces the legend entry of the posterior (e.g. "Bayesian single-level" for a
    pooled model); ``failed`` draws the title in red (a fit that failed the convergence gate).
    Terms are labelled by the table's ``label`` column when it has one (see
    :mod:`analysis.term_labels`), else by their code.

    Terms without an estimate (``freq_note``: separation) are labelled "not estimable" at the
    right edge; estimates beyond the axis (capped at 1/AXIS_CAP-AXIS_CAP) are drawn as arrows at
    its edge with their value, so one runaway term cannot crush the others.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if bayes_label is not None:
        sources = tuple(
            (*s[:3], bayes_label, *s[4:]) if s[0] == "posterior_median_or" else s for s in sources
        )
    n_terms = len(table)
    labels = [
        wrap_term_label(text) for text in (table["label"] if "label" in table else table["term"])
    ]
    fig, ax = plt.subplots(figsize=(11.0, 1.8 + 0.55 * n_terms), layout="constrained")
    positions = np.arange(n_terms)[::-1]
    offsets = (0.22, 0.0, -0.22) if len(sources) == 3 else (0.15, -0.15)
    scale = str(table["scale"].iloc[0]) if "scale" in table and len(table) else "odds ratio"
    ratio = scale != "coefficient (outcome units)"
    if ratio:
        lo, hi = _axis_range(table, sources)
    else:  # a gaussian outcome: coefficients on a linear axis around 0
        values = table[[c for s in sources for c in s[:3]]].to_numpy(float)
        values = values[np.isfinite(values)]
        span = max(abs(values).max(), 1e-9) * 1.15 if len(values) else 1.0
        lo, hi = -span, span
    unreliable = "freq_weights_unreliable" in table and bool(table["freq_weights_unreliable"].any())
    for offset, (est, low, high, label, colour, marker) in zip(offsets, sources, strict=True):
        y = positions + offset
        _mark_untrusted(ax, table, y, est, colour, lo, hi)
        if table[est].isna().all():
            continue
        if est == "freq_or" and unreliable:
            label += f" - UNRELIABLE: Kish effective n {table['freq_kish_n_eff'].iloc[0]:.0f}"
        ax.errorbar(
            table[est],
            y,
            xerr=[table[est] - table[low], table[high] - table[est]],
            fmt=marker,
            color=colour,
            markersize=5,
            capsize=2,
            linewidth=1.2,
            label=label,
        )
    ax.axvline(1.0 if ratio else 0.0, color="black", linestyle="--", linewidth=0.8)
    ax.set_xlim(lo, hi)
    if ratio:
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.set_xticks([t for t in _TICKS if lo <= t <= hi])
        ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_yticks(positions)
    ax.set_yticklabels(labels)
    ax.set_ylim(-0.7, n_terms - 0.3)
    ax.set_xlabel(
        f"{scale.capitalize()} (log scale; 1 = no association)"
        if ratio
        else f"{scale.capitalize()} (0 = no association)"
    )
    fig.suptitle(title, color="firebrick" if failed else "black")
    ax.grid(axis="x", color="0.9")
    fig.legend(loc="outside lower center", ncol=3, frameon=False, fontsize=8.5)
    return fig
