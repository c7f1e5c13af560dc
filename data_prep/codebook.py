"""Codebooks: how raw survey variables and codes map onto the analysis variables.

A codebook is a YAML file (the 2015 CMDS one ships as ``data_prep/codebooks/cmds2015.yaml``)::

    survey_month: 2015-05            # reference month for age and time in the inflow area
    items:
      sex:
        raw: q101b1                  # the variable's name in the survey file
        codes: {1: male, 2: female}  # raw code (or value label) -> analysis level
        missing: [9]                 # codes that mean "no answer"
      household_monthly_income:
        raw: FILL_IN                 # the user must write the variable name here

Each item has a fixed meaning (:data:`ITEMS`). An item the chosen models need whose ``raw`` is
``FILL_IN`` stops ingestion with a message naming the item and the codebook line to edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from cmds_common.yaml_text import load_yaml

FILL_IN = "FILL_IN"


@dataclass(frozen=True)
class ItemDefinition:
    """What a codebook item means and which values it may produce.

    Attributes
    ----------
    kind
        ``"categorical"`` (codes map to ``levels``), ``"numeric"``, ``"province"`` or ``"id"``
        (whole numbers, unique per respondent).
    description
        The survey question in words.
    levels
        Allowed target levels of a categorical item.
    valid_range
        Inclusive plausible range of a numeric item.
    """

    kind: str
    description: str
    levels: tuple[str, ...] = ()
    valid_range: tuple[float, float] | None = None


ITEMS: dict[str, ItemDefinition] = {
    "province": ItemDefinition("province", "Inflow province (code or name)"),
    "health_record": ItemDefinition(
        "categorical",
        "Has a health record been established for you in this community?",
        ("never_heard", "heard_not_established", "established", "not_clear"),
    ),
    "birth_year": ItemDefinition("numeric", "Year of birth", valid_range=(1900, 2015)),
    "birth_month": ItemDefinition("numeric", "Month of birth", valid_range=(1, 12)),
    "arrival_year": ItemDefinition(
        "numeric", "Year of arrival in the inflow area", valid_range=(1900, 2015)
    ),
    "arrival_month": ItemDefinition(
        "numeric", "Month of arrival in the inflow area", valid_range=(1, 12)
    ),
    "household_monthly_income": ItemDefinition(
        "numeric", "Household monthly income in the inflow area (yuan)", valid_range=(0, 1e7)
    ),
    "employment": ItemDefinition(
        "categorical", "Worked for one hour or more last week", ("employed", "unemployed")
    ),
    "local_medical_insurance": ItemDefinition(
        "categorical", "Has medical insurance in the inflow area", ("no", "yes")
    ),
    "planned_stay": ItemDefinition(
        "categorical",
        "How long do you plan to stay here (recoded: 5+ years)",
        ("no_or_undecided", "yes"),
    ),
    "local_friends_count": ItemDefinition(
        "numeric", "Number of local friends", valid_range=(0, 1000)
    ),
    "daily_exercise_minutes": ItemDefinition(
        "numeric", "Minutes of exercise per day", valid_range=(0, 1440)
    ),
    "hukou": ItemDefinition("categorical", "Hukou type", ("rural", "urban")),
    "movement": ItemDefinition(
        "categorical", "Range of migration", ("intraprovincial", "interprovincial")
    ),
    "sex": ItemDefinition("categorical", "Sex", ("male", "female")),
    "education": ItemDefinition(
        "categorical", "Highest education", ("primary_or_below", "junior", "senior_or_above")
    ),
    "marital": ItemDefinition("categorical", "Marital status", ("single", "married")),
    "chronic_disease": ItemDefinition(
        "categorical", "Diagnosed with hypertension or diabetes", ("no", "yes")
    ),
    "self_rated_health": ItemDefinition(
        "categorical", "Self-rated health", ("healthy", "unhealthy")
    ),
    "weight": ItemDefinition("numeric", "Sampling weight", valid_range=(0, 1e9)),
    "respondent_id": ItemDefinition(
        "id", "Respondent identifier (optional; checked for uniqueness)", valid_range=(0, 1e18)
    ),
}

#: Codebook items each analysis variable is derived from.
ITEMS_FOR_VARIABLE: dict[str, tuple[str, ...]] = {
    "province": ("province",),
    "health_record": ("health_record",),
    "age_years": ("birth_year", "birth_month"),
    "years_in_inflow_area": ("arrival_year", "arrival_month"),
    "income_quartile": ("household_monthly_income",),
    "occupation": ("employment",),
    "local_medical_insurance": ("local_medical_insurance",),
    "settlement_intention": ("planned_stay",),
    "local_friends": ("local_friends_count",),
    "exercise": ("daily_exercise_minutes",),
    "hukou": ("hukou",),
    "movement": ("movement",),
    "sex": ("sex",),
    "education": ("education",),
    "marital": ("marital",),
    "chronic_disease": ("chronic_disease",),
    "self_rated_health": ("self_rated_health",),
    "weight": ("weight",),
    "respondent_id": ("respondent_id",),
}

#: Analysis variables the inclusion flow always needs.
FLOW_VARIABLES = ("province", "health_record", "age_years", "years_in_inflow_area")


class CodebookError(ValueError):
    """A codebook that cannot be used, or an item the analysis needs that is not filled in."""


@dataclass(frozen=True)
class CodebookItem:
    """One item of a codebook: which raw variable feeds it and how its codes translate."""

    name: str
    raw: str | None
    codes: dict[object, str] = field(default_factory=dict)
    missing: tuple[object, ...] = ()
    line: int = 0

    @property
    def filled_in(self) -> bool:
        """Whether the raw variable name has been given."""
        return self.raw is not None


@dataclass(frozen=True)
class Codebook:
    """A parsed codebook with its source (for error messages)."""

    source: str
    survey_year: int
    survey_month: int
    items: dict[str, CodebookItem]

    def where(self, item: str) -> str:
        """``"<file> line N"`` of an item, for messages."""
        return f"{self.source} line {self.items[item].line}"

    def require(self, variables: list[str]) -> None:
        """Stop unless every item the analysis variables need is filled in.

        Raises
        ------
        CodebookError
            Naming each missing item, its meaning and the codebook line to edit.
        """
        problems = []
        for variable in variables:
            for item_name in ITEMS_FOR_VARIABLE[variable]:
                item = self.items.get(item_name)
                if item is None:
                    problems.append(
                        f"  - {item_name} ({ITEMS[item_name].description}), needed for "
                        f"{variable}: add an item '{item_name}:' to {self.source}"
                    )
                elif not item.filled_in:
                    problems.append(
                        f"  - {item_name} ({ITEMS[item_name].description}), needed for "
                        f"{variable}: set 'raw:' at {self.where(item_name)}"
                    )
        if problems:
            raise CodebookError(
                "the codebook does not say where these survey items are "
                "(write the variable name of your file in place of FILL_IN):\n"
                + "\n".join(dict.fromkeys(problems))
            )


def _line_numbers(text: str) -> dict[str, int]:
    root = yaml.compose(text)
    lines: dict[str, int] = {}
    for key, value in root.value if root is not None else []:
        if key.value == "items":
            for item_key, item_body in value.value:
                lines[item_key.value] = item_key.start_mark.line + 1
                # point at the item's own "raw:" line when it has one: that is the line to edit
                for field_key, _ in getattr(item_body, "value", None) or []:
                    if getattr(field_key, "value", None) == "raw":
                        lines[item_key.value] = field_key.start_mark.line + 1
    return lines


def _code_key(code: object) -> object:
    """Codes written as numbers compare as floats (files store codes as floats)."""
    if isinstance(code, bool):
        return code
    if isinstance(code, int | float):
        return float(code)
    return str(code)


def _level(value: object) -> str:
    # load_yaml keeps yes/no as words; an explicit true/false still means the word yes/no
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def parse_codebook(text: str, source: str) -> Codebook:
    """Parse codebook YAML text.

    Parameters
    ----------
    text
        The YAML.
    source
        Where it came from (used in messages).
    """
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as err:
        raise CodebookError(f"{source}: not valid YAML ({err})") from err
    if not isinstance(raw, dict) or not isinstance(raw.get("items"), dict):
        raise CodebookError(f"{source}: expected a mapping with an 'items:' section")
    try:
        year, month = (int(p) for p in str(raw.get("survey_month", "")).split("-"))
    except ValueError as err:
        raise CodebookError(f"{source}: survey_month must look like 2015-05") from err
    lines = _line_numbers(text)
    items, problems = {}, []
    for name, body in raw["items"].items():
        where = f"{source} line {lines.get(name, '?')}"
        if name not in ITEMS:
            problems.append(f"{where}: unknown item {name!r}; known items: {sorted(ITEMS)}")
            continue
        body = body or {}
        definition = ITEMS[name]
        raw_name = body.get("raw")
        codes = {_code_key(k): _level(v) for k, v in (body.get("codes") or {}).items()}
        bad_levels = sorted(set(codes.values()) - set(definition.levels))
        if definition.kind == "categorical" and bad_levels:
            problems.append(
                f"{where}: {name} maps codes to {bad_levels}; allowed: {list(definition.levels)}"
            )
        if definition.kind == "categorical" and raw_name not in (None, FILL_IN) and not codes:
            problems.append(f"{where}: {name} needs a 'codes:' mapping")
        items[name] = CodebookItem(
            name=name,
            raw=None if raw_name in (None, FILL_IN) else str(raw_name),
            codes=codes,
            missing=tuple(_code_key(m) for m in body.get("missing") or ()),
            line=lines.get(name, 0),
        )
    if problems:
        raise CodebookError("\n".join(problems))
    return Codebook(source=source, survey_year=year, survey_month=month, items=items)


def load_codebook(path: str | Path | None = None) -> Codebook:
    """Load a codebook file, or the shipped 2015 CMDS codebook when ``path`` is ``None``."""
    if path is None:
        text = (
            resources.files("data_prep").joinpath("codebooks", "cmds2015.yaml").read_text("utf-8")
        )
        return parse_codebook(text, "data_prep/codebooks/cmds2015.yaml")
    path = Path(path)
    if not path.exists():
        raise CodebookError(f"codebook not found: {path}")
    return parse_codebook(path.read_text(encoding="utf-8"), str(path))
