"""Models are data: a small spec (YAML) names the outcome, terms, grouping factor and priors.

A spec file looks like::

    name: model1
    label: "Model 1: social integration"
    formula: health_record ~ income_quartile + occupation + (1 | province)
    reference_levels: {income_quartile: Q1}   # optional; default = first category
    weights: weight                           # used by the weighted frequentist fit
    published_model: 1                        # optional: Table 3 model to compare with
    priors:                                   # optional; these are the defaults
      intercept_sd: 1.5
      coefficient_sd: 1.0
      group_sd_scale: 1.0
      lkj_eta: 2.0
      slope_sd_scale: 1.0                     # optional; default: group_sd_scale
    group_predictors: [log_gdp_per_capita_2015]   # optional province-level predictors
    sampler: {tune: 1500, draws: 1500}        # optional: this model's sampler defaults
    weighted_likelihood: false                # true: survey-weighted pseudo-likelihood

The formula follows lme4/brms: ``outcome ~ term + term + ... + (1 | group)`` for a random
intercept, ``(1 + a + b | group)`` for correlated random intercept and slopes of ``a`` and ``b``
(which must also be fixed terms), and no group term for a pooled model. Group-level predictors
are columns of ``data_prep/province_covariates.csv``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

#: Sampler settings a spec may set as its own defaults (command-line values still win).
SAMPLER_KEYS = {"chains", "draws", "tune", "target_accept"}


class SpecError(ValueError):
    """A model spec that cannot be used, with the reason."""


@dataclass(frozen=True)
class PriorSpec:
    """Scales of the weakly informative priors (log-odds scale).

    Attributes
    ----------
    intercept_sd
        SD of the Normal prior on the intercept.
    coefficient_sd
        SD of the Normal prior on each coefficient: per 0/1 contrast for categorical terms,
        per standard deviation of the predictor for continuous terms.
    group_sd_scale
        Scale of the HalfNormal prior on the SD of the group (province) intercepts, and of the
        slopes unless ``slope_sd_scale`` is given.
    slope_sd_scale
        Scale of the HalfNormal prior on the SDs of the group (province) slopes (``None``: the
        same as ``group_sd_scale``).
    lkj_eta
        Shape of the LKJ prior on the correlation of random intercepts and slopes (2 favours
        weak correlations).
    """

    intercept_sd: float = 1.5
    coefficient_sd: float = 1.0
    group_sd_scale: float = 1.0
    lkj_eta: float = 2.0
    slope_sd_scale: float | None = None

    @property
    def slope_scale(self) -> float:
        """HalfNormal scale of the slope SDs (``slope_sd_scale``, else ``group_sd_scale``)."""
        return self.group_sd_scale if self.slope_sd_scale is None else self.slope_sd_scale


@dataclass(frozen=True)
class ModelSpec:
    """A model: outcome, predictor variables, optional random-intercept group, priors."""

    name: str
    outcome: str
    predictors: tuple[str, ...]
    group: str | None = None
    group_slopes: tuple[str, ...] = ()
    group_predictors: tuple[str, ...] = ()
    label: str = ""
    reference_levels: dict[str, str] = field(default_factory=dict)
    weights: str | None = None
    published_model: int | None = None
    priors: PriorSpec = field(default_factory=PriorSpec)
    sampler: dict[str, float] = field(default_factory=dict)
    weighted_likelihood: bool = False

    @property
    def formula(self) -> str:
        """The spec written back as an lme4/brms formula."""
        rhs = " + ".join(self.predictors) or "1"
        if self.group:
            rhs += f" + ({' + '.join(['1', *self.group_slopes])} | {self.group})"
        return f"{self.outcome} ~ {rhs}"

    def used_columns(self) -> list[str]:
        """Every data column the spec reads."""
        cols = [self.outcome, *self.predictors]
        cols += [c for c in (self.group, self.weights) if c]
        return cols


_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_GROUP_TERM = re.compile(rf"^\(\s*1((?:\s*\+\s*{_NAME})*)\s*\|\s*({_NAME})\s*\)$")


@dataclass(frozen=True)
class ParsedFormula:
    """The parts of an lme4-style formula."""

    outcome: str
    predictors: tuple[str, ...]
    group: str | None
    group_slopes: tuple[str, ...]


def parse_formula(formula: str) -> ParsedFormula:
    """Split an lme4-style formula into outcome, predictors, grouping factor and slopes.

    Parameters
    ----------
    formula
        For example ``"health_record ~ income_quartile + hukou + (1 | province)"`` or
        ``"health_record ~ hukou + movement + (1 + hukou | province)"``.

    Returns
    -------
    ParsedFormula
        ``group`` is ``None`` when the formula has no group term; ``group_slopes`` lists the
        variables with random slopes.

    Raises
    ------
    SpecError
        On anything but plain variable names, one group term and ``1``.
    """
    if formula.count("~") != 1:
        raise SpecError(f"formula must contain exactly one '~': {formula!r}")
    lhs, rhs = (side.strip() for side in formula.split("~"))
    if not re.fullmatch(_NAME, lhs):
        raise SpecError(f"outcome must be one variable name, got {lhs!r} in {formula!r}")
    predictors: list[str] = []
    group, slopes = None, ()
    for raw in _split_top_level(rhs):
        term = raw.strip()
        if term in ("1", ""):
            continue
        match = _GROUP_TERM.match(term)
        if match:
            if group is not None:
                raise SpecError(f"only one group term is supported: {formula!r}")
            group = match.group(2)
            slopes = tuple(v.strip() for v in match.group(1).split("+") if v.strip())
        elif re.fullmatch(_NAME, term):
            if term in predictors:
                raise SpecError(f"term {term!r} appears twice in {formula!r}")
            predictors.append(term)
        else:
            raise SpecError(
                f"cannot read term {term!r} in {formula!r}: use variable names, "
                "(1 | group) or (1 + variable | group)"
            )
    stray = [v for v in slopes if v not in predictors]
    if stray:
        raise SpecError(f"random slopes {stray} must also be fixed terms in {formula!r}")
    return ParsedFormula(lhs, tuple(predictors), group, slopes)


def _split_top_level(rhs: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in rhs:
        depth += char == "("
        depth -= char == ")"
        if char == "+" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def spec_from_dict(raw: dict, source: str = "<dict>") -> ModelSpec:
    """Build a :class:`ModelSpec` from the mapping read from a spec file."""
    unknown = set(raw) - {
        "name",
        "label",
        "formula",
        "reference_levels",
        "weights",
        "published_model",
        "priors",
        "group_predictors",
        "sampler",
        "weighted_likelihood",
    }
    if unknown:
        raise SpecError(f"{source}: unknown keys {sorted(unknown)}")
    for key in ("name", "formula"):
        if key not in raw:
            raise SpecError(f"{source}: missing required key {key!r}")
    parsed = parse_formula(str(raw["formula"]))
    priors_raw = raw.get("priors") or {}
    try:
        priors = PriorSpec(**{k: float(v) for k, v in priors_raw.items()})
    except TypeError as err:
        raise SpecError(f"{source}: bad priors {priors_raw}: {err}") from err
    if min(v for v in vars(priors).values() if v is not None) <= 0:
        raise SpecError(f"{source}: prior scales must be positive, got {priors}")
    references = {str(k): str(v) for k, v in (raw.get("reference_levels") or {}).items()}
    stray = set(references) - set(parsed.predictors)
    if stray:
        raise SpecError(f"{source}: reference_levels for variables not in the formula: {stray}")
    sampler = dict(raw.get("sampler") or {})
    bad_sampler = set(sampler) - SAMPLER_KEYS
    if bad_sampler:
        raise SpecError(
            f"{source}: unknown sampler settings {sorted(bad_sampler)}; use {sorted(SAMPLER_KEYS)}"
        )
    group_predictors = tuple(str(v) for v in raw.get("group_predictors") or ())
    if raw.get("weighted_likelihood") and not raw.get("weights"):
        raise SpecError(f"{source}: weighted_likelihood needs a 'weights:' column")
    if group_predictors and parsed.group is None:
        raise SpecError(f"{source}: group_predictors need a group term in the formula")
    return ModelSpec(
        name=str(raw["name"]),
        label=str(raw.get("label", raw["name"])),
        outcome=parsed.outcome,
        predictors=parsed.predictors,
        group=parsed.group,
        group_slopes=parsed.group_slopes,
        group_predictors=group_predictors,
        sampler=sampler,
        weighted_likelihood=bool(raw.get("weighted_likelihood", False)),
        reference_levels=references,
        weights=raw.get("weights"),
        published_model=raw.get("published_model"),
        priors=priors,
    )


def load_spec(path_or_name: str | Path) -> ModelSpec:
    """Load a spec from a YAML file, or a shipped spec by name (``"model1"``, ``"model2"``).

    Parameters
    ----------
    path_or_name
        Path to a ``.yaml`` file, or the name of a spec shipped in ``models/specs/``.
    """
    path = Path(path_or_name)
    if path.suffix in (".yaml", ".yml"):
        if not path.exists():
            raise SpecError(f"spec file not found: {path}")
        text, source = path.read_text(encoding="utf-8"), str(path)
    else:
        shipped = resources.files("models").joinpath("specs", f"{path_or_name}.yaml")
        if not shipped.is_file():
            raise SpecError(f"no shipped spec named {path_or_name!r}; give a .yaml path")
        text, source = shipped.read_text(encoding="utf-8"), f"models/specs/{path_or_name}.yaml"
    raw = yaml.safe_load(text)
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: expected a mapping of keys, got {type(raw).__name__}")
    return spec_from_dict(raw, source)


def spec_to_yaml(spec: ModelSpec) -> str:
    """Write a spec back as YAML (stored with each fit for provenance)."""
    body = {
        "name": spec.name,
        "label": spec.label,
        "formula": spec.formula,
        "reference_levels": spec.reference_levels,
        "weights": spec.weights,
        "published_model": spec.published_model,
        "priors": {k: v for k, v in vars(spec.priors).items() if v is not None},
        "group_predictors": list(spec.group_predictors),
        "sampler": spec.sampler,
        "weighted_likelihood": spec.weighted_likelihood,
    }
    return yaml.safe_dump(body, sort_keys=False)
