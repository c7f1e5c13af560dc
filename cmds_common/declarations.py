"""Variable declarations: what each column of a data set is, in a YAML file rather than in code.

A declarations file (a codebook's ``variables:`` section, or a dictionary for a coded table)::

    wave: 2015                          # optional: the survey wave
    variables:
      sex:
        type: categorical               # binary categorical ordinal continuous count
        label: Sex                      #   or a role: id weight group stratum psu
        label_zh: 性别
        levels: [male, female]          # in order; reference = first level unless given
        reference: male
        level_labels: {male: Male, female: Female}     # optional, for tables and figures
        level_labels_zh: {male: 男, female: 女}
        source: {item: sex}             # codebooks only: where the values come from
      health_record:
        type: binary                    # two levels, stored as 0 (first) / 1 (second)
        levels: [no, yes]
        source: {map: health_record_answer, codes: {established: yes, never_heard: no}}
      age_years: {type: continuous, unit: years, source: {age_at_survey: [birth_year, birth_month]}}
      province: {type: group, levels: provinces}   # the 32 units; any code or name accepted

Sources (codebooks): ``item`` (a codebook item: raw variable + code map), ``map`` (levels of
another item/variable through ``codes:``), ``threshold`` (``at:`` one cut point, below -> first
level, at or above -> second; or a list of increasing cut points, ``at: [30, 45]``, with one
level more than cuts: a value at or above the k-th cut and below the next gets level k + 1),
``combine`` (the levels of two or more categorical variables joined with ``:`` into one cell
label, ``combine: [sex, age_group]`` -> ``female:30_44``; missing when any is missing; levels
may be left out, the typed column then has the cells present, sorted), ``quantile_groups``
(groups of the analysed sample, one per level), ``sum`` / ``mean`` of items, ``age_at_survey``
(completed years from birth year and month at the survey month) and ``years_since`` (years from
a year and month to the survey month). ``in_table: false`` declares a variable used only by the
inclusion flow. ``missing:`` lists codes meaning no answer.

Loading checks every declaration and raises one :class:`DeclarationError` that names the file
and line of each problem: unknown type, a reference that is not a level, a source naming an
item or variable that does not exist, a name declared twice, threshold cut points that do not
increase or levels that are not one more than the cuts, a ``combine`` of fewer than two
variables or of a variable without levels.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from cmds_common.provinces import province_chinese_names, province_names, to_province_names
from cmds_common.yaml_text import YAML12BoolLoader

#: Declared types: measurement types, then roles. ``stratum`` and ``psu`` are the survey's
#: design (sampling strata and primary sampling units); a spec names them in ``strata:`` and
#: ``psu:`` for design-based standard errors, and either may also be a grouping factor.
MEASUREMENT_TYPES = ("binary", "categorical", "ordinal", "continuous", "count")
GROUPING_ROLES = ("group", "stratum", "psu")
ROLE_TYPES = ("id", "weight", *GROUPING_ROLES)
TYPES = MEASUREMENT_TYPES + ROLE_TYPES
#: Derived-recode sources computed after the inclusion flow (on the analysed sample).
POST_FLOW_SOURCES = ("quantile_groups",)
SOURCE_KINDS = (
    "item",
    "map",
    "threshold",
    "combine",
    "quantile_groups",
    "sum",
    "mean",
    "age_at_survey",
    "years_since",
)
#: Separator of the levels a ``combine`` source joins into one cell label.
COMBINE_SEPARATOR = ":"
#: Sources whose input is a list (written as a YAML list even with one input).
LIST_SOURCES = ("sum", "mean", "age_at_survey", "years_since", "combine")
#: ``levels: provinces`` marks the province column: the 32 units of ``provinces.csv``.
PROVINCE_LEVELS = "provinces"
FIELDS = (
    "type",
    "label",
    "label_zh",
    "levels",
    "reference",
    "unit",
    "missing",
    "source",
    "in_table",
    "level_labels",
    "level_labels_zh",
)


class DeclarationError(ValueError):
    """Declarations that cannot be used; the message names the file and line of each problem."""


@dataclass(frozen=True)
class Source:
    """Where a declared variable's values come from (codebooks only).

    Attributes
    ----------
    kind
        One of :data:`SOURCE_KINDS`.
    inputs
        Names of the items or variables it reads.
    codes
        ``map``: input level -> level.
    at
        ``threshold``: the cut points, increasing (one cut: two levels).
    """

    kind: str
    inputs: tuple[str, ...]
    codes: dict[str, str] = field(default_factory=dict)
    at: tuple[float, ...] = ()

    def to_dict(self) -> dict:
        """Return the YAML form of the source."""
        value: object = list(self.inputs) if len(self.inputs) != 1 else self.inputs[0]
        if self.kind in LIST_SOURCES:
            value = list(self.inputs)
        out: dict = {self.kind: value}
        if self.codes:
            out["codes"] = dict(self.codes)
        if self.at:
            out["at"] = self.at[0] if len(self.at) == 1 else list(self.at)
        return out


@dataclass(frozen=True)
class Declaration:
    """One declared variable.

    Attributes
    ----------
    name
        Column name.
    type
        One of :data:`TYPES`.
    label, label_zh
        What the column holds, in English and (optionally) Chinese.
    levels
        Levels in order (binary: the 0 level then the 1 level; ordinal: lowest first).
    reference
        Reference level (default: the first level).
    unit
        Unit of a continuous or count variable.
    missing
        Codes that mean no answer.
    source
        How a codebook derives it (``None`` in a dictionary for a coded table).
    levels_from
        ``"provinces"`` for the province column.
    in_table
        ``False`` for a variable used only by the inclusion flow.
    level_labels, level_labels_zh
        Readable label of some or all levels (English, Chinese), for tables and figures;
        a level without one is shown by its code.
    file, line
        Where it was declared.
    """

    name: str
    type: str
    label: str = ""
    label_zh: str = ""
    levels: tuple[str, ...] = ()
    reference: str = ""
    unit: str = ""
    missing: tuple[object, ...] = ()
    source: Source | None = None
    levels_from: str = ""
    in_table: bool = True
    level_labels: dict[str, str] = field(default_factory=dict)
    level_labels_zh: dict[str, str] = field(default_factory=dict)
    file: str = ""
    line: int = 0

    def display_label(self, lang: str = "en") -> str:
        """Return the label in ``lang`` (``"en"``/``"zh"``), else the English label or the name."""
        if lang == "zh" and self.label_zh:
            return self.label_zh
        return self.label or self.name

    def level_label(self, level: str, lang: str = "en") -> str:
        """Return the label of ``level`` in ``lang``, else its English label, else the code.

        A province (the column with ``levels_from: provinces``) reads its Chinese name in
        Chinese ("Beijing" -> "北京").
        """
        if lang == "zh" and level in self.level_labels_zh:
            return self.level_labels_zh[level]
        if lang == "zh" and self.is_province:
            return province_chinese_names().get(level, level)
        return self.level_labels.get(level, level)

    @property
    def is_province(self) -> bool:
        """Whether this is the province column (province codes and names accepted)."""
        return self.levels_from == PROVINCE_LEVELS

    @property
    def all_levels(self) -> tuple[str, ...]:
        """Levels, with the 32 province names filled in for the province column."""
        return tuple(province_names()) if self.is_province else self.levels

    @property
    def reference_level(self) -> str:
        """The reference level: the declared one, else the first level."""
        levels = self.all_levels
        return self.reference or (levels[0] if levels else "")

    @property
    def ordered_levels(self) -> tuple[str, ...]:
        """Levels as the typed column holds them: reference first, except ordinal (in order)."""
        levels = self.all_levels
        if self.type == "ordinal" or not self.reference or self.reference not in levels:
            return levels
        return (self.reference, *(lv for lv in levels if lv != self.reference))

    def where(self) -> str:
        """``"<file> line N"``, for messages."""
        return f"{self.file} line {self.line}"

    def to_dict(self) -> dict:
        """Return the YAML form of the declaration (without its name)."""
        out: dict = {"type": self.type}
        if self.label:
            out["label"] = self.label
        if self.label_zh:
            out["label_zh"] = self.label_zh
        if self.levels_from:
            out["levels"] = self.levels_from
        elif self.levels:
            out["levels"] = list(self.levels)
        if self.reference:
            out["reference"] = self.reference
        if self.unit:
            out["unit"] = self.unit
        if self.missing:
            out["missing"] = list(self.missing)
        if self.source is not None:
            out["source"] = self.source.to_dict()
        if not self.in_table:
            out["in_table"] = False
        if self.level_labels:
            out["level_labels"] = dict(self.level_labels)
        if self.level_labels_zh:
            out["level_labels_zh"] = dict(self.level_labels_zh)
        return out


def _word(value: object) -> str:
    if isinstance(value, bool):  # an explicit true/false still means the word yes/no
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _construct(node: yaml.Node) -> object:
    return YAML12BoolLoader("").construct_object(node, deep=True)


def _field_lines(node: yaml.Node) -> dict[str, int]:
    lines = {}
    for key, _ in getattr(node, "value", None) or []:
        if isinstance(key, yaml.ScalarNode):
            lines[key.value] = key.start_mark.line + 1
    return lines


def _parse_source(raw: object, where: str, problems: list[str]) -> Source | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        problems.append(f"{where}: 'source:' must be a mapping such as {{item: sex}}")
        return None
    kinds = [k for k in raw if k in SOURCE_KINDS]
    if len(kinds) != 1:
        problems.append(
            f"{where}: 'source:' needs exactly one of {list(SOURCE_KINDS)}, got {sorted(raw)}"
        )
        return None
    kind = kinds[0]
    value = raw[kind]
    inputs = tuple(_word(v) for v in value) if isinstance(value, list) else (_word(value),)
    if kind in ("age_at_survey", "years_since") and len(inputs) != 2:
        problems.append(f"{where}: {kind} needs [year item, month item]")
    if kind in ("sum", "mean") and len(inputs) < 1:
        problems.append(f"{where}: {kind} needs a list of items")
    codes = {_word(k): _word(v) for k, v in (raw.get("codes") or {}).items()}
    if kind == "map" and not codes:
        problems.append(f"{where}: a 'map' source needs 'codes:' (from level -> to level)")
    if kind == "combine" and len(inputs) < 2:
        problems.append(
            f"{where}: a 'combine' source needs a list of two or more categorical variables, "
            f"got {list(inputs)}"
        )
    at = _cut_points(raw.get("at"), where, problems) if kind == "threshold" else ()
    return Source(kind=kind, inputs=inputs, codes=codes, at=at)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cut_points(raw: object, where: str, problems: list[str]) -> tuple[float, ...]:
    """Read the ``at:`` of a threshold source: one number or a list of increasing numbers."""
    cuts = raw if isinstance(raw, list) else [raw]
    if not cuts or not all(_is_number(c) for c in cuts):
        problems.append(
            f"{where}: a 'threshold' source needs 'at:' a number or a list of increasing "
            f"numbers (cut points), got {raw!r}"
        )
        return ()
    values = tuple(float(c) for c in cuts)
    if any(b <= a for a, b in itertools.pairwise(values)):
        problems.append(
            f"{where}: the cut points 'at: {cuts}' of a 'threshold' source must increase"
        )
        return ()
    return values


def _source_levels_problem(source: Source, levels: tuple[str, ...]) -> str:
    """Say what is wrong with the declared levels of a derived variable ('' when nothing)."""
    if source.kind == "threshold" and source.at and len(levels) != len(source.at) + 1:
        return (
            f"a threshold with {len(source.at)} cut point(s) at "
            f"{', '.join(_word(c) for c in source.at)} makes {len(source.at) + 1} levels "
            f"(below the first cut, then one from each cut on), but {len(levels)} are "
            f"declared: {list(levels)}"
        )
    if source.kind == "combine" and levels:
        parts = len(source.inputs)
        bad = [lv for lv in levels if len(lv.split(COMBINE_SEPARATOR)) != parts]
        if bad:
            return (
                f"a 'combine' of {parts} variables makes levels of {parts} parts joined "
                f"with {COMBINE_SEPARATOR!r}, but {bad} are declared"
            )
    return ""


def _parse_one(
    name: str, body: object, node: yaml.Node, file: str, line: int, problems: list[str]
) -> Declaration | None:
    where = f"{file} line {line}"
    if not isinstance(body, dict):
        problems.append(f"{where}: variable {name!r} needs a mapping with at least 'type:'")
        return None
    lines = _field_lines(node)
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        problems.append(f"{file} line {lines[unknown[0]]}: {name}: unknown keys {unknown}")
    kind = _word(body.get("type", ""))
    if kind not in TYPES:
        at = lines.get("type", line)
        problems.append(
            f"{file} line {at}: {name}: unknown type {kind!r}; known types: {', '.join(TYPES)}"
        )
    raw_levels = body.get("levels")
    levels_from = ""
    if raw_levels == PROVINCE_LEVELS:
        levels_from, levels = PROVINCE_LEVELS, ()
    elif raw_levels is None:
        levels = ()
    elif isinstance(raw_levels, list):
        levels = tuple(_word(v) for v in raw_levels)
    else:
        problems.append(
            f"{file} line {lines.get('levels', line)}: {name}: 'levels:' must be a list "
            f"(or '{PROVINCE_LEVELS}')"
        )
        levels = ()
    if len(set(levels)) != len(levels):
        problems.append(f"{file} line {lines.get('levels', line)}: {name}: levels repeat")
    if kind == "binary" and len(levels) not in (0, 2):
        problems.append(
            f"{file} line {lines.get('levels', line)}: {name}: a binary variable has two "
            f"levels (the 0 level then the 1 level), got {list(levels)}"
        )
    reference = _word(body["reference"]) if body.get("reference") is not None else ""
    allowed = province_names() if levels_from else levels
    if reference and reference not in allowed:
        problems.append(
            f"{file} line {lines.get('reference', line)}: {name}: reference level "
            f"{reference!r} is not among the levels {list(levels) or '(none declared)'}"
        )
    source = _parse_source(
        body.get("source"), f"{file} line {lines.get('source', line)}: {name}", problems
    )
    wrong_levels = "" if source is None else _source_levels_problem(source, levels)
    if wrong_levels:
        problems.append(f"{file} line {lines.get('levels', line)}: {name}: {wrong_levels}")
    in_table = body.get("in_table", True)
    level_labels = {}
    for key in ("level_labels", "level_labels_zh"):
        raw = body.get(key) or {}
        at = f"{file} line {lines.get(key, line)}: {name}"
        if not isinstance(raw, dict):
            problems.append(f"{at}: '{key}:' must map levels to labels")
            raw = {}
        unknown_levels = sorted(set(map(_word, raw)) - set(allowed)) if allowed else []
        if unknown_levels:
            problems.append(f"{at}: '{key}:' names levels {unknown_levels} that are not declared")
        level_labels[key] = {_word(k): str(v) for k, v in raw.items()}
    return Declaration(
        name=name,
        type=kind,
        label=str(body.get("label") or ""),
        label_zh=str(body.get("label_zh") or ""),
        levels=levels,
        reference=reference,
        unit=str(body.get("unit") or ""),
        missing=tuple(body.get("missing") or ()),
        source=source,
        levels_from=levels_from,
        in_table=in_table is not False and _word(in_table) != "no",
        level_labels=level_labels["level_labels"],
        level_labels_zh=level_labels["level_labels_zh"],
        file=file,
        line=line,
    )


def parse_declarations(text: str, file: str, items: set[str] | None = None) -> dict:
    """Parse the ``variables:`` section of a declarations (or codebook) YAML text.

    Parameters
    ----------
    text
        The YAML document.
    file
        Where it came from (used in messages).
    items
        Names a ``source:`` may refer to besides declared variables; by default the keys of
        the document's ``items:`` section.

    Returns
    -------
    dict
        ``{name: Declaration}`` in the file's order.

    Raises
    ------
    DeclarationError
        One message naming the file and line of every problem found.
    """
    try:
        root = yaml.compose(text, Loader=YAML12BoolLoader)
    except yaml.YAMLError as err:
        raise DeclarationError(f"{file}: not valid YAML ({err})") from err
    if not isinstance(root, yaml.MappingNode):
        raise DeclarationError(f"{file}: expected a mapping with a 'variables:' section")
    sections = {key.value: value for key, value in root.value}
    node = sections.get("variables")
    if not isinstance(node, yaml.MappingNode):
        raise DeclarationError(
            f"{file}: expected a 'variables:' section mapping each column to its declaration"
        )
    if items is None:
        items_node = sections.get("items")
        items = (
            {key.value for key, _ in items_node.value}
            if isinstance(items_node, yaml.MappingNode)
            else set()
        )
    problems: list[str] = []
    declared: dict[str, Declaration] = {}
    for key, body_node in node.value:
        name, line = _word(_construct(key)), key.start_mark.line + 1
        if name in declared:
            problems.append(
                f"{file} line {line}: {name!r} is declared twice (first at line "
                f"{declared[name].line})"
            )
            continue
        decl = _parse_one(name, _construct(body_node), body_node, file, line, problems)
        if decl is not None:
            declared[name] = decl
    for decl in declared.values():
        if decl.source is None:
            continue
        for ref in decl.source.inputs:
            if decl.source.kind == "item":
                if ref not in items:
                    problems.append(
                        f"{decl.where()}: {decl.name} comes from item {ref!r}, which is not "
                        f"under 'items:' in {file}"
                    )
            elif ref not in declared and ref not in items:
                problems.append(
                    f"{decl.where()}: {decl.name} is derived from {ref!r}, which is neither an "
                    f"item nor a declared variable of {file}"
                )
        problems += combine_problems(decl, declared)
    if problems:
        raise DeclarationError(
            f"{file}: {len(problems)} problem(s) with the declarations:\n  - "
            + "\n  - ".join(problems)
        )
    return declared


def combine_problems(decl: Declaration, declared: dict) -> list[str]:
    """List the inputs of a ``combine`` source that are declared but have no levels.

    Parameters
    ----------
    decl : Declaration
        The declaration to check (nothing is reported unless its source is a ``combine``).
    declared : dict
        ``{name: Declaration}`` the inputs are looked up in; inputs not there are not checked.

    Returns
    -------
    list of str
        One message per input that has no levels to combine.
    """
    if decl.source is None or decl.source.kind != "combine":
        return []
    return [
        f"{decl.where()}: {decl.name} combines {ref!r}, which is {declared[ref].type}; only "
        f"categorical, ordinal and grouping variables have levels to combine"
        for ref in decl.source.inputs
        if ref in declared
        and declared[ref].type not in ("categorical", "ordinal", "binary", *GROUPING_ROLES)
    ]


def load_declarations(path: str | Path, items: set[str] | None = None) -> dict:
    """Load declarations from a YAML file (a dictionary or a codebook's ``variables:``)."""
    path = Path(path)
    if not path.exists():
        raise DeclarationError(f"declarations file not found: {path}")
    return parse_declarations(path.read_text(encoding="utf-8"), str(path), items)


def dump_declarations(declarations: dict, wave: int | str | None = None, header: str = "") -> str:
    """Write declarations as YAML text that :func:`parse_declarations` reads back."""
    body: dict = {}
    if wave is not None:
        body["wave"] = wave
    body["variables"] = {d.name: d.to_dict() for d in declarations.values()}
    return header + yaml.safe_dump(body, allow_unicode=True, sort_keys=False, width=100)


def data_dictionary(declarations: dict) -> pd.DataFrame:
    """One row per declared column of the table: variable, type, labels, levels, reference."""
    rows = []
    for d in declarations.values():
        if not d.in_table:
            continue
        rows.append(
            {
                "variable": d.name,
                "type": d.type,
                "label": d.label,
                "label_zh": d.label_zh,
                "levels": ", ".join(d.ordered_levels),
                "reference_level": d.reference_level,
                "unit": d.unit,
                "source": "" if d.source is None else yaml_flow(d.source.to_dict()),
            }
        )
    return pd.DataFrame(rows)


def yaml_flow(value: object) -> str:
    """One-line YAML of a small value (for tables)."""
    return yaml.safe_dump(
        value, default_flow_style=True, allow_unicode=True, width=1000, sort_keys=False
    ).strip()


def province_column(declarations: dict) -> str | None:
    """Name of the column declared as the province (``levels: provinces``), if any."""
    return next((d.name for d in declarations.values() if d.is_province), None)


def _as_binary(column: pd.Series, decl: Declaration) -> pd.Series:
    words = {lv: k for k, lv in enumerate(decl.levels)}
    present = column.dropna().map(_word)
    all_words = bool(words) and len(present) > 0 and present.isin(list(words)).all()
    mapped = column.map(lambda v: words[_word(v)] if pd.notna(v) else v) if all_words else column
    numeric = pd.to_numeric(mapped, errors="coerce")
    bad = numeric.notna() & ~numeric.isin([0, 1]) | (numeric.isna() & column.notna())
    if bad.any():
        raise ValueError(
            f"column {decl.name!r} has values {sorted(set(map(str, column[bad])))[:8]} that are "
            f"neither 0/1 nor the declared levels {list(decl.levels)}"
        )
    return numeric


def type_table(table: pd.DataFrame, declarations: dict) -> pd.DataFrame:
    """Type the declared columns of a table.

    A binary column holds 0/1, or only the words of its two levels (first level = 0).
    Categoricals (and groups) get their levels with the reference first, ordinal variables an
    ordered categorical in the declared order, continuous and weight columns float, count,
    binary (0/1) and id columns int. Undeclared columns are dropped; declared columns the
    table lacks are left out.

    Raises
    ------
    ValueError
        A value outside a variable's declared levels.
    """
    typed = {}
    for name, decl in declarations.items():
        if name not in table.columns or not decl.in_table:
            continue
        column = table[name]
        if decl.type in ("categorical", "ordinal", *GROUPING_ROLES):
            if decl.is_province:
                column = to_province_names(column)
            as_text = column.where(column.isna(), column.map(_word))
            levels = decl.ordered_levels or tuple(sorted(set(as_text.dropna())))
            unknown = sorted(set(as_text.dropna()) - set(levels))
            if unknown:
                raise ValueError(
                    f"column {name!r} has values {unknown} outside the allowed {list(levels)}"
                )
            typed[name] = pd.Categorical(
                as_text, categories=list(levels), ordered=decl.type == "ordinal"
            )
        elif decl.type in ("binary", "id", "count"):
            values = _as_binary(column, decl) if decl.type == "binary" else column
            typed[name] = values.astype("int64" if values.notna().all() else "Int64")
        else:
            typed[name] = pd.to_numeric(column, errors="coerce").astype("float64")
    return pd.DataFrame(typed, index=table.index)


def infer_declarations(table: pd.DataFrame, file: str = "") -> tuple[dict, list[str]]:
    """Guess declarations from a table's values, and warnings about the guesses.

    0/1 columns are binary, text columns categorical (reference = first level in sorted order,
    with a warning), numbers continuous; a column named ``province`` is the province,
    ``respondent_id`` the id, ``weight`` the weight, ``stratum`` (or ``strata``) the sampling
    stratum and ``psu`` the primary sampling unit.
    """
    declared: dict[str, Declaration] = {}
    warnings: list[str] = []
    for name in map(str, table.columns):
        column = table[name]
        present = column.dropna()
        numeric = pd.to_numeric(present, errors="coerce")
        is_numeric = len(present) > 0 and numeric.notna().all()
        if name.lower() in ("province", "省份", "prov"):
            decl = Declaration(name, "group", label=name, levels_from=PROVINCE_LEVELS)
        elif name.lower() in ("respondent_id", "id"):
            decl = Declaration(name, "id", label=name)
        elif name.lower() == "weight":
            decl = Declaration(name, "weight", label=name)
        elif name.lower() in ("stratum", "strata"):
            decl = Declaration(name, "stratum", label=name)
        elif name.lower() == "psu":
            decl = Declaration(name, "psu", label=name)
        elif is_numeric and set(np.unique(numeric)) <= {0, 1}:
            decl = Declaration(name, "binary", label=name, levels=("0", "1"))
        elif is_numeric:
            decl = Declaration(name, "continuous", label=name)
        else:
            levels = tuple(sorted({_word(v) for v in present}))
            decl = Declaration(name, "categorical", label=name, levels=levels)
            warnings.append(
                f"{file}: column {name!r} read as categorical with reference level "
                f"{levels[0] if levels else '?'!r} (first in sorted order); declare "
                "'reference:' in a dictionary (--dictionary) to choose another"
            )
        declared[name] = decl
    return declared, warnings
