"""The pieces every HTML report page is made of: style, tables, figures, sections, contents.

Shared by the run's report (:mod:`analysis.report`), the heterogeneity study's page and the
treatment study's page (:mod:`analysis.study_report`). The page never scrolls sideways at a
laptop's width: every table sits in a container that scrolls on its own when the table is
wider than the text column, long codes (formulas, hashes, paths) may break anywhere, and an
interval ("2.23 (1.75-2.82)") stays on one line.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

STYLE = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; max-width: 1150px;
       margin: 2em auto; padding: 0 1.5em; color: #1d1d1d; line-height: 1.45; }
h1 { font-size: 1.7em; }
h2 { border-bottom: 2px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
h2 small, h3 small { font-size: .65em; font-weight: normal; color: #666; margin-left: .4em; }
.table-wrap { max-width: 100%; overflow-x: auto; margin: .8em 0 1.4em; }
table { border-collapse: collapse; font-size: .85em; }
th, td { border: 1px solid #ccc; padding: .25em .5em; text-align: left; }
th { background: #f2f2f2; } .num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1em 0 2em; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .9em; color: #444; margin-top: .3em; }
.note { background: #f7f7f2; border-left: 4px solid #c9b458; padding: .5em 1em; font-size: .92em; }
.fail { color: #b00020; font-weight: bold; } .pass { color: #1b7f3b; font-weight: bold; }
nav.contents { background: #fafafa; border: 1px solid #e4e4e4; padding: .3em 1.2em; }
nav.contents h2 { border: 0; margin: .4em 0 .2em; font-size: 1.15em; }
nav.contents h3 { font-size: 1em; margin: .6em 0 .1em; }
nav.contents ol { margin: .1em 0 .4em; }
nav.contents ol ol { font-size: .9em; list-style: none; padding-left: 0; }
nav.contents ol ol li { display: inline; }
nav.contents ol ol li + li::before { content: ' · '; color: #888; }
td { overflow-wrap: break-word; } td.num, td.interval { white-space: nowrap; }
code { overflow-wrap: anywhere; }
details { margin: .6em 0 1.2em; } summary { cursor: pointer; color: #333; }
.lead { font-style: italic; color: #333; }
"""

SCRIPT = """
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images);
  var loaded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  document.body.setAttribute('data-images-loaded', loaded.length + '/' + images.length);
});
"""

#: A column whose header names an interval ("Bayes OR (95% CrI)") keeps each cell on one line,
#: as does one whose every cell is a number with a bracket ("1946 (61.6)", "1 (ref.)").
INTERVAL_HEADER = "95%"
_NUMBER_WITH_BRACKET = re.compile(r"^[<>]?-?\d[\d.,]* \(")


#: A cell holding a number printed as text ("3333", "-1.44", "<0.001"): right-aligned too.
_NUMBER_TEXT = re.compile(r"^[<>]?-?\d[\d.,]*$")


def _is_number_text(values: pd.Series) -> bool:
    texts = [v for v in values if isinstance(v, str) and v]
    return bool(texts) and all(_NUMBER_TEXT.match(v) for v in texts)


def _is_interval(column: object, values: pd.Series) -> bool:
    if INTERVAL_HEADER in str(column):
        return True
    texts = [v for v in values if isinstance(v, str) and v]
    return bool(texts) and all(_NUMBER_WITH_BRACKET.match(v) for v in texts)


def image(path: Path, caption: str) -> str:
    """Return a figure with the PNG embedded (base64), or a note when it was not produced.

    Parameters
    ----------
    path : pathlib.Path
        The PNG file.
    caption : str
        Caption and alt text.

    Returns
    -------
    str
        HTML of a ``<figure>`` or of a note.
    """
    if not path.exists():
        return f'<p class="note">Figure not produced: <code>{html.escape(str(path))}</code></p>'
    encoded = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{encoded}" alt="{html.escape(caption)}">'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def table(frame: pd.DataFrame, float_format: str = "{:.2f}") -> str:
    """Return an HTML table in a container that scrolls sideways when the table is too wide.

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows to show.
    float_format : str
        Format of float cells.

    Returns
    -------
    str
        HTML; numeric columns (and numbers printed as text, "<0.001") right-aligned, text
        left-aligned, intervals and counts with
        their percentages unbroken; underscores in headers shown as spaces, so they wrap.
    """
    numeric = [
        pd.api.types.is_numeric_dtype(frame[c]) or _is_number_text(frame[c]) for c in frame.columns
    ]
    kinds = [
        "num" if is_number else ("interval" if _is_interval(c, frame[c]) else "")
        for c, is_number in zip(frame.columns, numeric, strict=True)
    ]

    def cell(value: object, kind: str) -> str:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            text = ""
        elif isinstance(value, float):
            text = float_format.format(value)
        else:
            text = html.escape(str(value))
        return f'<td class="{kind}">{text}</td>' if kind else f"<td>{text}</td>"

    head = "".join(
        ('<th class="num">' if k == "num" else "<th>")
        + html.escape(str(c).replace("_", " "))
        + "</th>"
        for c, k in zip(frame.columns, kinds, strict=True)
    )
    body = "".join(
        "<tr>" + "".join(cell(v, k) for v, k in zip(row, kinds, strict=True)) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def warnings_box(messages: Sequence[str]) -> str:
    """Return warnings for readers in a highlighted box (empty string when there are none)."""
    if not messages:
        return ""
    items = "".join(f"<li>{html.escape(m)}</li>" for m in messages)
    return f'<div class="note"><b class="fail">Read with care</b><ul>{items}</ul></div>'


def details(summary: str, body: str) -> str:
    """Collapse a long table under a one-line summary (HTML ``<details>``)."""
    return f"<details><summary>{summary}</summary>{body}</details>"


def section(anchor: str, title: str, body: str, lead: str | None = None) -> str:
    """Return a ``<section>`` whose ``<h2>`` the contents list links to.

    Parameters
    ----------
    anchor : str
        The section's id.
    title : str
        Its heading (plain text).
    body : str
        Its HTML.
    lead : str, optional
        One opening sentence on what the section shows and how to read it.
    """
    opening = f'<p class="lead">{html.escape(lead)}</p>' if lead else ""
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{opening}{body}</section>'


def model_heading(anchor: str, name: str, label: str, prefix: str = "") -> str:
    """Return an ``<h3>`` naming a model by its label, its code in small type.

    Parameters
    ----------
    anchor : str
        The heading's id (linked from the contents list).
    name : str
        The model's code (``model2_slopes``).
    label : str
        The spec's label ("Model 2, random slopes (...)"); the code alone when empty or equal.
    prefix : str
        Words before the label ("AMEs: ").
    """
    code = f" <small><code>{html.escape(name)}</code></small>" if label and label != name else ""
    return f'<h3 id="{anchor}">{html.escape(prefix + (label or name))}{code}</h3>'


_SECTION = re.compile(r'<section id="([^"]+)"><h2>(.*?)</h2>')
_SUBSECTION = re.compile(r'<h3 id="([^"]+)">(.*?)</h3>')
_SMALL = re.compile(r"\s*<small>.*?</small>")


def _entries(section_html: str) -> str:
    """Return the ``<li>`` of one section and its headed subsections (empty without a section)."""
    found = _SECTION.match(section_html)
    if found is None:
        return ""
    children = "".join(
        f'<li><a href="#{anchor}">{_SMALL.sub("", title)}</a></li>'
        for anchor, title in _SUBSECTION.findall(section_html)
    )
    nested = f"<ol>{children}</ol>" if children else ""
    return f'<li><a href="#{found.group(1)}">{found.group(2)}</a>{nested}</li>'


def contents(studies: Sequence[tuple[str, Sequence[str]]]) -> str:
    """Return the contents list: per study, links to its sections and their model headings.

    Parameters
    ----------
    studies : sequence of (str, sequence of str)
        Each study's title and the HTML of its sections (as :func:`section` writes them; empty
        strings are skipped). A single study is listed without its title.

    Returns
    -------
    str
        A ``<nav>`` with one ordered list per study.
    """
    parts = []
    for title, sections in studies:
        items = "".join(_entries(s) for s in sections)
        if not items:
            continue
        heading = f"<h3>{html.escape(title)}</h3>" if len(studies) > 1 else ""
        parts.append(f"{heading}<ol>{items}</ol>")
    return f'<nav class="contents" aria-label="Contents"><h2>Contents</h2>{"".join(parts)}</nav>'
