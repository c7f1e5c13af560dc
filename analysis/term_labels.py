"""Readable labels for model terms, from the variable declarations.

A design names its columns by code: ``local_friends_ge3`` (an indicator of a level),
``age_years`` (a continuous predictor), ``local_medical_insurance_yes:sex_female`` (an
interaction). Tables and figures show them as the declarations describe them::

    local_friends_ge3        -> Number of local friends: 3 or more (ref: Fewer than 3)
    age_years                -> Age at the survey (May 2015) (per year)
    a_yes:b_female           -> <label of a>: Yes (ref: No) x <label of b>: Female (ref: Male)

The declarations come from the ``declarations.yaml`` that ``python -m data_prep`` writes beside
the analysis table; a column without a declaration keeps its code with underscores turned into
spaces. ``lang="zh"`` uses the Chinese labels (``label_zh``, ``level_labels_zh``) where the
declarations give them (``LANG=zh`` in the environment selects it by default).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cmds_common.constants import DECLARATIONS_FILE
from cmds_common.declarations import Declaration, DeclarationError, load_declarations

LANGUAGES = ("en", "zh")
#: Chinese for the units the shipped declarations use ("per year" -> "每年").
_UNITS_ZH = {"years": "年", "year": "年", "index points": "分", "yuan": "元", "minutes": "分钟"}
#: Chinese for the fixed words tables put beside the declared labels.
_WORDS_ZH = {
    "ref": "参照",
    "ref.": "参照",
    "Whole sample": "全样本",
    "Intercept": "截距",
    "All": "全部",
    "yes": "是",
    "no": "否",
}


def default_language() -> str:
    """Return ``"zh"`` when the ``LANG`` environment variable starts with ``zh``, else ``"en"``."""
    return "zh" if os.environ.get("LANG", "").lower().startswith("zh") else "en"


def declarations_beside(data_path: Path | None) -> dict[str, Declaration]:
    """Return the declarations beside an analysis table (empty when none or unreadable)."""
    if data_path is None:
        return {}
    path = Path(data_path).with_name(DECLARATIONS_FILE)
    if not path.exists():
        return {}
    try:
        return load_declarations(path)
    except DeclarationError:
        return {}


def _binary_levels(decl: Declaration) -> bool:
    """Whether ``decl`` is a binary variable with its two levels declared (0 = first)."""
    return decl.type == "binary" and len(decl.levels) == 2


def _plain(code: str) -> str:
    text = code.replace("_", " ")
    return text[:1].upper() + text[1:]


def _singular(unit: str) -> str:
    return unit[:-1] if unit.endswith("s") else unit


@dataclass(frozen=True)
class TermPart:
    """One variable of a term: its name and, for an indicator, the level it marks."""

    variable: str
    level: str | None = None


@dataclass(frozen=True)
class TermLabeller:
    """Labels of variables, levels and terms in one language.

    Parameters
    ----------
    declarations
        ``{column: Declaration}`` (may be empty).
    lang
        ``"en"`` or ``"zh"``.
    reference_levels
        Reference level per variable as the model used it (a spec's ``reference:`` overrides
        the declared one).
    """

    declarations: Mapping[str, Declaration] = field(default_factory=dict)
    lang: str = "en"
    reference_levels: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.lang not in LANGUAGES:
            raise ValueError(f"lang must be one of {LANGUAGES}, not {self.lang!r}")

    def variable(self, name: str) -> str:
        """Return the label of a variable (its declared label, else the name in words)."""
        decl = self.declarations.get(name)
        return decl.display_label(self.lang) if decl else _plain(name)

    def word(self, text: str) -> str:
        """Return one of the fixed words tables use ("Whole sample", "ref.") in the language."""
        return _WORDS_ZH.get(text, text) if self.lang == "zh" else text

    def short(self, name: str) -> str:
        """Return a variable's label cut to its first clause, for titles and axes.

        "1 = has established a health record in the inflow community, 0 = not" reads "has
        established a health record in the inflow community"; "Inflow province (...)" reads
        "Inflow province"; a Chinese label "是否签约家庭医生" reads "签约家庭医生".
        """
        label = self.variable(name)
        if self.lang == "zh" and label != _plain(name):
            return label.split("（")[0].split(" (")[0].removeprefix("是否").strip() or label
        short = label.split(" (")[0].split(";")[0].split(", 0 = ")[0].removeprefix("1 = ")
        return short.strip() or label

    def share(self, name: str) -> str:
        """Return what the share of a 0/1 outcome is, in words, without the unit.

        "Share who has established a health record in the inflow community" for a label
        "1 = has ..., 0 = not"; "Share: <label>" for any other; "<label>的比例" in Chinese.
        """
        short = self.short(name)
        if self.lang == "zh":
            return f"{short}的比例"
        if self.variable(name).startswith("1 = "):
            return f"Share who {short}"
        return f"Share: {short[:1].lower()}{short[1:]}"

    def level(self, name: str, level: str) -> str:
        """Return the label of one level of a variable."""
        decl = self.declarations.get(name)
        if decl is None:
            return _plain(level)
        if _binary_levels(decl) and level in ("0", "1"):  # a binary stored as 0/1
            level = decl.levels[int(level)]
        label = decl.level_label(level, self.lang)
        return _plain(label) if label == level else label

    def _with_levels(self, name: str) -> str:
        """Return the variable's label before a level ("1 = has X, 0 = not" reads "Has X")."""
        label = self.variable(name)
        if not label.startswith("1 = "):
            return label
        short = self.short(name)
        return short[:1].upper() + short[1:]

    def category(self, name: str, level: str) -> str:
        """Return ``Label: Level`` of one category ("Number of local friends: 3 or more")."""
        return f"{self._with_levels(name)}: {self.level(name, level)}"

    def reference(self, name: str) -> str | None:
        """Return the reference level of a categorical variable, or ``None``."""
        if name in self.reference_levels:
            return self.reference_levels[name]
        decl = self.declarations.get(name)
        return decl.reference_level or None if decl else None

    def unit(self, name: str) -> str:
        """Return ``"per year"`` (``"每年"``) for a continuous variable declared in ``years``."""
        decl = self.declarations.get(name)
        unit = decl.unit if decl else ""
        if self.lang == "zh":
            return f"每{_UNITS_ZH.get(unit, unit or '单位')}"
        return f"per {_singular(unit)}" if unit else "per unit"

    def split(self, term: str, variables: Iterable[str]) -> list[TermPart]:
        """Split a term name into its variables and levels.

        Parameters
        ----------
        term
            ``variable`` (continuous), ``variable_level`` (indicator) or such names joined by
            ``:`` (an interaction).
        variables
            The model's predictor names (the longest matching name wins).

        Raises
        ------
        ValueError
            When a part of the term matches none of ``variables``.
        """
        names = sorted(set(variables), key=len, reverse=True)
        parts = []
        for piece in term.split(":"):
            if piece in names:
                parts.append(TermPart(piece))
                continue
            match = next((v for v in names if piece.startswith(f"{v}_")), None)
            if match is None:
                raise ValueError(f"term {term!r}: {piece!r} is none of the variables {names}")
            parts.append(TermPart(match, piece[len(match) + 1 :]))
        return parts

    def part(self, part: TermPart, with_reference: bool = True) -> str:
        """Return the label of one part: ``Label: Level (ref: ...)`` or ``Label (per unit)``."""
        name = self.variable(part.variable)
        decl = self.declarations.get(part.variable)
        if part.level is None and decl is not None and _binary_levels(decl):
            # a declared binary predictor is a 0/1 column: its coefficient is level 1 vs 0;
            # an outcome-style label "1 = has ..., 0 = not" is cut to "Has ..."
            part = TermPart(part.variable, decl.levels[1])
        if part.level is not None:
            name = self._with_levels(part.variable)
        if part.level is None:
            return f"{name} ({self.unit(part.variable)})"
        text = f"{name}: {self.level(part.variable, part.level)}"
        reference = self.reference(part.variable)
        if with_reference and reference:
            text += f" ({self.word('ref')}: {self.level(part.variable, reference)})"
        return text

    def term(self, term: str, variables: Iterable[str]) -> str:
        """Return the label of a whole term (parts of an interaction joined by " x ")."""
        try:
            parts = self.split(term, variables)
        except ValueError:
            return term
        return " × ".join(self.part(p) for p in parts)
