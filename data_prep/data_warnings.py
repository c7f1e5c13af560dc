"""Legal but risky features of an analysis data set: reported as warnings, never as errors."""

from __future__ import annotations

import pandas as pd

from cmds_common.survey_weights import weight_summary
from data_prep import variables

#: Provinces with fewer respondents than this are flagged (their effects rest on the prior).
SMALL_PROVINCE = 10


def data_warnings(table: pd.DataFrame) -> pd.DataFrame:
    """Find small provinces, categories that perfectly predict the outcome, unequal weights.

    Parameters
    ----------
    table
        The typed analysis table.

    Returns
    -------
    pandas.DataFrame
        One row per warning: ``kind``, ``variable``, ``level``, ``n``, ``message``.
    """
    rows = []
    outcome = table[variables.OUTCOME]
    sizes = table[variables.PROVINCE].value_counts()
    for province, n in sizes[(sizes > 0) & (sizes < SMALL_PROVINCE)].items():
        rows.append(
            (
                "small_province",
                variables.PROVINCE,
                str(province),
                int(n),
                f"{province} has only {n} respondents: its estimate leans on the other provinces",
            )
        )
    schema = variables.variable_by_name()
    for name, column in table.items():
        if schema.get(name) is None or schema[name].kind != "categorical" or name == "province":
            continue
        for level, share in outcome.groupby(column, observed=True).mean().items():
            if share in (0.0, 1.0):
                n = int((column == level).sum())
                rows.append(
                    (
                        "separation",
                        name,
                        str(level),
                        n,
                        f"all {n} respondents with {name} = {level} have health_record = "
                        f"{int(share)}: its odds ratio is not identified by the data alone",
                    )
                )
    if variables.WEIGHT in table:
        weights = weight_summary(table[variables.WEIGHT].to_numpy(float))
        if weights["weights_unreliable"]:
            message = str(weights["weights_message"])
            rows.append(("unequal_weights", variables.WEIGHT, "", int(weights["n"]), message))
    return pd.DataFrame(rows, columns=["kind", "variable", "level", "n", "message"])
