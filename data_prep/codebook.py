"""Codebooks: how raw survey variables and codes map onto the analysis variables.

A codebook is a YAML file (the 2015 CMDS one ships as ``data_prep/codebooks/cmds2015.yaml``, the
2017 one as ``cmds2017.yaml``)::

    wave: 2015
    survey_month: 2015-05            # reference month for age and time in the inflow area
    variables:                       # the analysis variables, declared: cmds_common/declarations.py
      sex: {type: categorical, label: Sex, levels: [male, female], source: {item: sex}}
    flow:                            # the inclusion flow: data_prep/flow.py
      - count: respondents in the file
    items:
      sex:
        raw: q101b1                  # the variable's name in the survey file
        codes: {1: male, 2: female}  # raw code (or value label) -> analysis level
        missing: [9]                 # codes that mean "no answer"
      household_monthly_income:
        raw: FILL_IN                 # the user must write the variable name here

An item may say what it is (``type: categorical | numeric | province | id | text``,
``label:``, ``range: [low, high]``); the 2015 item names have defaults (:data:`ITEMS`). An item
the chosen models need whose ``raw`` is ``FILL_IN`` stops ingestion with a message naming the
item and the codebook line to edit. A codebook without ``variables:`` or ``flow:`` uses those of
the shipped 2015 codebook.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path

import yaml

from cmds_common.declarations import (
    Declaration,
    DeclarationError,
    combine_problems,
    parse_declarations,
)
from cmds_common.yaml_text import YAML12BoolLoader, load_yaml
from data_prep.flow import FlowStep, parse_flow

FILL_IN = "FILL_IN"


@dataclass(frozen=True)
class ItemDefinition:
    """What a codebook item means and which values it may produce.

    Attributes
    ----------
    kind
        ``"categorical"`` (codes map to ``levels``), ``"numeric"``, ``"province"``, ``"id"``
        (whole numbers, unique per respondent) or ``"text"`` (kept as written, e.g. city codes).
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

ITEM_KINDS = ("categorical", "numeric", "province", "id", "text")


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
    definition: ItemDefinition = ItemDefinition("numeric", "")

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
    declarations: dict[str, Declaration] = field(default_factory=dict)
    flow: list[FlowStep] = field(default_factory=list)
    wave: int | None = None

    def input_of(self, name: str) -> tuple[str, str]:
        """``("variable", name)`` or ``("item", name)``: what a source's input refers to."""
        decl = self.declarations.get(name)
        if decl is not None and decl.source is not None:
            return "variable", name
        return "item", name

    def items_for(self, variable: str, seen: frozenset[str] = frozenset()) -> list[str]:
        """Codebook items a declared variable is derived from, through every recode."""
        decl = self.declarations.get(variable)
        if decl is None or decl.source is None or variable in seen:
            if decl is not None and decl.type == "id" and variable in self.items:
                return [variable]
            return []
        found: list[str] = []
        for name in decl.source.inputs:
            if decl.source.kind == "item" or self.input_of(name)[0] == "item":
                found.append(name)
            else:
                found += self.items_for(name, seen | {variable})
        return list(dict.fromkeys(found))

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
            if variable not in self.declarations:
                problems.append(
                    f"  - {variable}: the models need it, but {self.source} does not declare it "
                    "under 'variables:'"
                )
            for item_name in self.items_for(variable):
                item = self.items.get(item_name)
                meaning = item.definition.description if item else ITEMS.get(item_name, "")
                meaning = getattr(meaning, "description", meaning)
                if item is None:
                    problems.append(
                        f"  - {item_name} ({meaning}), needed for "
                        f"{variable}: add an item '{item_name}:' to {self.source}"
                    )
                elif not item.filled_in:
                    problems.append(
                        f"  - {item_name} ({meaning}), needed for "
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
        body = body or {}
        if not isinstance(body, dict):
            problems.append(f"{where}: item {name!r} needs a mapping with 'raw:'")
            continue
        definition = _item_definition(name, body, where, problems)
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
            definition=definition,
        )
    if problems:
        raise CodebookError("\n".join(problems))
    if "variables" in raw:
        try:
            declarations = parse_declarations(text, source, set(items))
        except DeclarationError as err:
            raise CodebookError(str(err)) from err
    else:
        declarations = _shipped().declarations
    problems += _check_sources(declarations, items)
    if "flow" in raw:
        flow, flow_problems = parse_flow(
            raw["flow"], _flow_lines(text), source, set(declarations) | set(items)
        )
        problems += flow_problems
    else:
        flow = _shipped().flow
    if problems:
        raise CodebookError(
            f"{source}: {len(problems)} problem(s) with the codebook:\n  - "
            + "\n  - ".join(problems)
        )
    wave = raw.get("wave")
    return Codebook(
        source=source,
        survey_year=year,
        survey_month=month,
        items=items,
        declarations=declarations,
        flow=flow,
        wave=int(wave) if wave is not None else year,
    )


def with_variables(codebook: Codebook, path: str | Path) -> Codebook:
    """Add the ``variables:`` of another file (a study's own variables) to a codebook's.

    The variables are declared in the format of :mod:`cmds_common.declarations` and may be
    derived from the codebook's items and variables and from one another. They are checked as
    a codebook's are: a name the codebook already declares, a source naming something neither
    file has, an ``item:`` source naming no codebook item, levels a recode cannot produce.

    Parameters
    ----------
    codebook : Codebook
        The codebook the file is read through.
    path : str or pathlib.Path
        A YAML file with a ``variables:`` section (e.g. ``studies/<name>/study.yaml``).

    Returns
    -------
    Codebook
        The codebook with the added declarations after its own.

    Raises
    ------
    CodebookError
        One message naming the file and line of every problem.
    """
    path = Path(path)
    names = set(codebook.items) | set(codebook.declarations)
    try:
        added = parse_declarations(path.read_text(encoding="utf-8"), str(path), names)
    except DeclarationError as err:
        raise CodebookError(str(err)) from err
    problems = [
        f"{decl.where()}: {name!r} is already declared in {codebook.source} (line "
        f"{codebook.declarations[name].line})"
        for name, decl in added.items()
        if name in codebook.declarations
    ]
    for decl in added.values():
        if decl.source is not None and decl.source.kind == "item":
            problems += [
                f"{decl.where()}: {decl.name} comes from item {ref!r}, which is not under "
                f"'items:' in {codebook.source}"
                for ref in decl.source.inputs
                if ref not in codebook.items
            ]
    merged = {**codebook.declarations, **added}
    problems += _check_sources(added, codebook.items)
    for decl in added.values():
        problems += combine_problems(decl, merged)
    if problems:
        raise CodebookError(
            f"{path}: {len(problems)} problem(s) with the variables it adds to "
            f"{codebook.source}:\n  - " + "\n  - ".join(dict.fromkeys(problems))
        )
    return replace(codebook, declarations=merged)


def _item_definition(name: str, body: dict, where: str, problems: list[str]) -> ItemDefinition:
    """Say what an item is: its own ``type``/``label``/``range``, else the 2015 defaults."""
    default = ITEMS.get(name)
    kind = body.get("type") or (default.kind if default else None)
    if kind is None:
        kind = "categorical" if body.get("codes") else "numeric"
    if kind not in ITEM_KINDS:
        problems.append(f"{where}: item {name!r} has unknown type {kind!r}; known: {ITEM_KINDS}")
    label = str(body.get("label") or (default.description if default else name))
    valid = body.get("range")
    if valid is not None:
        valid = (float(valid[0]), float(valid[1]))
    elif default is not None:
        valid = default.valid_range
    if default is not None and not body.get("type"):
        levels = default.levels
    else:
        levels = tuple(dict.fromkeys(_level(v) for v in (body.get("codes") or {}).values()))
    return ItemDefinition(kind, label, levels, valid)


def _check_sources(declarations: dict[str, Declaration], items: dict) -> list[str]:
    """Levels that item code maps and ``map`` recodes produce must be declared levels."""
    problems = []
    for decl in declarations.values():
        source = decl.source
        if source is None or not decl.levels:
            continue
        if source.kind == "item" and source.inputs[0] in items:
            produced = set(items[source.inputs[0]].codes.values())
            where = f"item '{source.inputs[0]}' codes"
        elif source.kind == "map":
            produced = set(source.codes.values())
            where = "its 'map' codes"
        else:
            continue
        outside = sorted(produced - set(decl.levels))
        if outside:
            problems.append(
                f"{decl.where()}: {decl.name}: {where} give levels {outside} that are not among "
                f"its declared levels {list(decl.levels)}"
            )
    return problems


def _flow_lines(text: str) -> list[int]:
    root = yaml.compose(text, Loader=YAML12BoolLoader)
    for key, value in root.value if isinstance(root, yaml.MappingNode) else []:
        if key.value == "flow" and isinstance(value, yaml.SequenceNode):
            return [step.start_mark.line + 1 for step in value.value]
    return []


_SHIPPED: list[Codebook] = []


def _shipped() -> Codebook:
    """Return the shipped 2015 codebook (its declarations and flow serve codebooks without them)."""
    if not _SHIPPED:
        _SHIPPED.append(load_codebook())
    return _SHIPPED[0]


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
