"""Studies as data: ``studies/<name>/study.yaml`` says what a study reads, fits and reports.

Keys (paths are relative to the study's folder unless they start with a package folder such as
``cmds_common/`` or ``data_prep/``, which are relative to the repository root):

``name``, ``title``, ``reference``, ``wave``
    What the study is.
``pipeline``
    ``models``: the first study's Makefile chain (``python -m models`` on ``models/specs``, then
    ``python -m analysis`` summarize/ppc/compare); ``study``: ``python -m data_prep --study``
    then ``python -m analysis study``.
``analysis``
    (``pipeline: study`` only) which runner of ``python -m analysis study`` does the analysis:
    ``treatment_index`` (:mod:`analysis.treatment_study`), ``heterogeneity``
    (:mod:`analysis.heterogeneity_cli`). A study of a new kind adds a runner
    there (one entry of ``analysis.study_cli.RUNNERS``).
``published``
    The published figures (CSV with source, in ``cmds_common/published/``).
``codebook``, ``flow``
    The codebook a raw file is read through, and the inclusion flow that replaces the
    codebook's own (same step format as a codebook's ``flow:``, :mod:`data_prep.flow`).
``variables``
    The study's own variables, declared as a codebook's are (:mod:`cmds_common.declarations`)
    and added to the codebook's when the study reads a raw file
    (:func:`data_prep.codebook.with_variables`): recodes that mean something for this study
    only (age groups of working-age migrants, the subgroup cells).
``synthetic``
    Parameter file of the synthetic default sample (:mod:`data_prep.synthetic_factor_sample`;
    for ``analysis: heterogeneity``, :mod:`data_prep.synthetic_subgroups`).
``treatment``, ``covariates``, ``index``, ``matching``
    The analysis: treatment variable with its control and treated levels, adjustment
    covariates, the factor-analysis index (dimensions -> items, reversed items), matching
    settings (``neighbours``, ``caliper``).
``specs``, ``province_effects_spec``, ``effect_term``
    Bayesian model specs (format of ``models/specs``), the one with a province-varying effect
    and the effect's term name.
``heterogeneity``
    (``analysis: heterogeneity``) the partially pooled model and the interaction model (spec
    names in the study's ``specs/``), the subgroup column, the factors whose combinations are
    the subgroups, and the named comparisons (``name``, ``variable``, ``level``, ``versus``).

Nothing here imports a pipeline package, so every stage may read a study.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from cmds_common.spec import load_spec
from cmds_common.yaml_text import load_yaml

#: The repository root: ``studies/`` and shipped files are found from here.
ROOT = Path(__file__).resolve().parents[1]
STUDIES_DIR = ROOT / "studies"
#: Folders whose paths in a study file are read from the repository root.
ROOT_FOLDERS = ("cmds_common/", "data_prep/", "models/", "studies/")
KEYS = {
    "name",
    "title",
    "reference",
    "wave",
    "pipeline",
    "analysis",
    "published",
    "codebook",
    "flow",
    "variables",
    "synthetic",
    "treatment",
    "covariates",
    "index",
    "matching",
    "specs",
    "province_effects_spec",
    "effect_term",
    "heterogeneity",
    "models",
    "compare",
    "main_model",
    "specs_dir",
    "n",
}


class StudyError(ValueError):
    """A study file that cannot be used; names the file."""


@dataclass(frozen=True)
class Study:
    """A study read from its ``study.yaml`` (see the module docstring for the keys)."""

    name: str
    folder: Path
    raw: dict = field(repr=False)

    def path(self, key: str) -> Path | None:
        """Return the file a key names, resolved (``None`` when the key is absent)."""
        value = self.raw.get(key)
        return None if value is None else self.resolve(str(value))

    def resolve(self, value: str) -> Path:
        """Return a path written in the study file as a real path."""
        if value.startswith(ROOT_FOLDERS):
            return ROOT / value
        return self.folder / value

    @property
    def spec_paths(self) -> list[Path]:
        """The study's Bayesian model specs."""
        return [self.resolve(str(s)) for s in self.raw.get("specs") or []]

    @property
    def index_items(self) -> list[str]:
        """Every item of the index, in dimension order."""
        dims = (self.raw.get("index") or {}).get("dimensions") or {}
        return [item for items in dims.values() for item in items]

    def required_columns(self) -> list[str]:
        """Columns the study's analysis reads from the data.

        Returns
        -------
        list of str
            Province, city, the treatment, covariates and index items; for a
            ``heterogeneity:`` study also the subgroup column, its factors and every column
            of its model and interaction model (specs in the study's ``specs/``).
        """
        treatment = self.raw.get("treatment") or {}
        columns = ["province", "city", treatment.get("variable")]
        columns += list(self.raw.get("covariates") or []) + self.index_items
        settings = self.raw.get("heterogeneity") or {}
        if settings:
            columns += [settings.get("subgroup"), *(settings.get("factors") or [])]
            for key in ("model", "interaction_model"):
                if settings.get(key):
                    spec = load_spec(self.folder / "specs" / f"{settings[key]}.yaml")
                    columns += spec.used_columns()
        return [c for c in dict.fromkeys(columns) if c]


def load_study(name_or_path: str | Path) -> Study:
    """Load ``studies/<name>/study.yaml``, or a study folder or file given as a path.

    Raises
    ------
    StudyError
        Unknown study, unreadable file or unknown keys.
    """
    path = Path(name_or_path)
    if not path.exists():
        path = STUDIES_DIR / str(name_or_path)
    if path.is_dir():
        path = path / "study.yaml"
    if not path.exists():
        known = sorted(p.name for p in STUDIES_DIR.iterdir() if (p / "study.yaml").exists())
        raise StudyError(f"no study {str(name_or_path)!r}; known studies: {known}")
    raw = load_yaml(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict) or "name" not in raw:
        raise StudyError(f"{path}: a study file needs a mapping with 'name:'")
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise StudyError(f"{path}: unknown keys {unknown}; known: {sorted(KEYS)}")
    return Study(name=str(raw["name"]), folder=path.parent.resolve(), raw=raw)
