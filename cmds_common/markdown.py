"""Plain Markdown tables (no extra dependency)."""

from __future__ import annotations

import pandas as pd


def to_markdown(table: pd.DataFrame, float_format: str = "{:.2f}") -> str:
    """Render a DataFrame as a GitHub-flavoured Markdown table."""

    def cell(value: object) -> str:
        if isinstance(value, float):
            return "" if pd.isna(value) else float_format.format(value)
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return ""
        return str(value).replace("|", "\\|")  # a bare pipe would split the cell

    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in table.columns) + " |"
    rows = ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, rule, *rows]) + "\n"
