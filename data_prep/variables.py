"""The analysis data set's schema: each variable, its type, levels and meaning.

The first level of every categorical is its reference level in Table 3 of Jing et al. (2019).
This module is the single source of the data dictionary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from cmds_common.provinces import province_names


@dataclass(frozen=True)
class Variable:
    """One column of the analysis data set.

    Attributes
    ----------
    name
        Column name.
    kind
        ``"categorical"``, ``"binary_outcome"``, ``"continuous"``, ``"weight"`` or ``"id"``.
    description
        What the column holds, in words.
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


OUTCOME = "health_record"
PROVINCE = "province"
WEIGHT = "weight"
RESPONDENT_ID = "respondent_id"

VARIABLES: tuple[Variable, ...] = (
    Variable(RESPONDENT_ID, "id", "Respondent identifier"),
    Variable(PROVINCE, "categorical", "Inflow province (31 provinces + Xinjiang Corps)"),
    Variable(
        OUTCOME,
        "binary_outcome",
        "1 = has established a health record in the inflow community, 0 = not",
    ),
    Variable(
        "income_quartile",
        "categorical",
        "Household monthly income quartile (Q1 poorest)",
        ("Q1", "Q2", "Q3", "Q4"),
    ),
    Variable("occupation", "categorical", "Employment status", ("unemployed", "employed")),
    Variable(
        "local_medical_insurance",
        "categorical",
        "Has medical insurance in the inflow area",
        ("no", "yes"),
    ),
    Variable(
        "settlement_intention",
        "categorical",
        "Intends to stay 5+ years in the inflow area",
        ("no_or_undecided", "yes"),
    ),
    Variable("local_friends", "categorical", "Number of local friends", ("lt3", "ge3")),
    Variable("hukou", "categorical", "Hukou (household registration) type", ("rural", "urban")),
    Variable(
        "movement",
        "categorical",
        "Range of migration",
        ("intraprovincial", "interprovincial"),
    ),
    Variable("exercise", "categorical", "Daily exercise time", ("lt60min", "ge60min")),
    Variable("age_years", "continuous", "Age at the survey (May 2015)", unit="years"),
    Variable(
        "years_in_inflow_area",
        "continuous",
        "Time lived in the inflow area",
        unit="years",
    ),
    Variable("sex", "categorical", "Sex", ("male", "female")),
    Variable(
        "education",
        "categorical",
        "Highest education",
        ("primary_or_below", "junior", "senior_or_above"),
    ),
    Variable("marital", "categorical", "Marital status", ("single", "married")),
    Variable(
        "chronic_disease",
        "categorical",
        "Diagnosed hypertension or diabetes",
        ("no", "yes"),
    ),
    Variable(
        "self_rated_health",
        "categorical",
        "Self-rated health",
        ("healthy", "unhealthy"),
    ),
    Variable(WEIGHT, "weight", "Sampling weight (scaled to mean 1)"),
    Variable(
        "city",
        "group",
        "Sampled prefecture-level city (district in the four municipalities); synthetic "
        "names <province>-Cnn, nested in province",
    ),
    Variable("stratum", "group", "Sampling stratum (the inflow province)"),
    Variable(
        "psu",
        "group",
        "Primary sampling unit: sampled community or village, nested in city "
        "(synthetic names <city>-Pnn)",
    ),
    Variable(
        "insurance_location",
        "categorical",
        "Where the respondent's medical insurance is held (2017-style item)",
        ("hometown", "inflow_city", "both", "none"),
    ),
    Variable(
        "integration_index",
        "index",
        "Social integration index (factor scores x 100; mean about 0, SD about 33; "
        "2017-style item)",
        unit="index points",
    ),
    Variable(
        "family_doctor",
        "binary_outcome",
        "1 = has signed a contract with a family doctor, 0 = not (2017-style item)",
    ),
    Variable(
        "health_education",
        "binary_outcome",
        "1 = received health education in the inflow area in the past year, 0 = not "
        "(2017-style item)",
    ),
    Variable(
        "self_rated_health_4",
        "ordinal",
        "Self-rated health, four levels worst to best (answers 4-1 of the survey); "
        "refines self_rated_health (healthy = the top two levels)",
        ("cannot_self_care", "unhealthy_self_care", "basically_healthy", "healthy"),
    ),
)


def variable_by_name() -> dict[str, Variable]:
    """Map column name to its :class:`Variable`, with province levels filled in."""
    table = {v.name: v for v in VARIABLES}
    table[PROVINCE] = Variable(
        PROVINCE, "categorical", table[PROVINCE].description, tuple(province_names())
    )
    return table


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
