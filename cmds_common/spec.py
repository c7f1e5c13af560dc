"""Models are data: a small spec (YAML) names the outcome, terms, grouping factor and priors.

A spec file looks like::

    name: model1
    label: "Model 1: social integration"
    formula: health_record ~ income_quartile + occupation + (1 | province)
    reference_levels: {income_quartile: Q1}   # optional; default = first category
    weights: weight                           # used by the weighted frequentist fit
    strata: stratum                           # optional survey design of the frequentist fit:
    psu: psu                                  #   sampling strata and primary sampling units
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
    family: bernoulli                         # or binomial, gaussian, cumulative_logit
    trials: n_asked                           # binomial only: column of trials per row

The formula follows lme4/brms and is read by ``formulae`` (Bambi's parser):
``outcome ~ term + term + ... + (1 | group)`` for a random intercept; ``a:b`` for an interaction
and ``a*b`` for ``a + b + a:b``; ``(1 | province) + (1 | city)`` for several grouping factors
(any column); ``(1 | province/city)`` for cities nested in provinces (``(1 | province) +
(1 | province:city)``, the second factor named ``province_city`` with levels ``"P:C"``);
``(1 + a + b | group)`` for correlated random intercept and slopes of ``a`` and ``b`` (which must
also be fixed terms; slopes by one grouping factor at most); ``(0 + a + b | group)`` for slopes
without a group intercept, each term's deviations independent with their own SD (as Bambi reads
the term; lme4 would correlate them); no group term for a pooled model.
Binomial outcomes name their trials in the ``trials:`` key (formulae cannot read brms'
``y | trials(n)``). Group-level predictors are columns of ``cmds_common/province_covariates.csv``.
``strata:`` and ``psu:`` name the survey's design columns (declared with the roles ``stratum``
and ``psu``): the frequentist fit then gives linearisation standard errors with strata and
clusters; a PSU intercept in the multilevel model is one more group term, ``(1 | psu)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import yaml

from cmds_common.yaml_text import as_bool, load_yaml

#: Sampler settings a spec may set as its own defaults (command-line values still win), each
#: with its type, inclusive lower bound, upper bound (exclusive for ``target_accept``) and meaning.
SAMPLER_RANGES: dict[str, tuple[type, float, float, str]] = {
    "chains": (int, 1, 64, "a whole number from 1 to 64 (independent chains)"),
    "draws": (int, 1, 1_000_000, "a whole number from 1 to 1,000,000 (kept draws per chain)"),
    "tune": (int, 0, 1_000_000, "a whole number from 0 to 1,000,000 (warm-up draws per chain)"),
    "target_accept": (float, 0.5, 1.0, "a number from 0.5 up to (not including) 1"),
}
SAMPLER_KEYS = set(SAMPLER_RANGES)


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


#: Outcome families: name -> (link, what the outcome column holds).
FAMILIES: dict[str, str] = {
    "bernoulli": "0/1 outcome, logit link",
    "binomial": "successes out of the 'trials:' column, logit link",
    "gaussian": "continuous outcome, identity link, residual SD",
    "cumulative_logit": "ordered categorical outcome, cumulative logit link",
}


class _FirstGroup:
    """``group`` and ``group_slopes``: the first grouping factor, for single-factor callers."""

    groups: tuple

    @property
    def group(self) -> str | None:
        """Name of the first grouping factor (``None`` when pooled); see ``groups``."""
        return self.groups[0].name if self.groups else None

    @property
    def group_slopes(self) -> tuple[str, ...]:
        """Random-slope terms of the first grouping factor."""
        return self.groups[0].slopes if self.groups else ()


@dataclass(frozen=True)
class ModelSpec(_FirstGroup):
    """A model: outcome and family, fixed terms, grouping factors, priors.

    ``predictors`` are the distinct variables of the fixed terms and ``terms`` the terms
    themselves (``"a"``, or ``"a:b"`` for an interaction); ``groups`` the grouping factors.
    ``source`` names the spec file in error messages and is not part of the spec's identity.
    """

    name: str
    outcome: str
    predictors: tuple[str, ...]
    terms: tuple[str, ...] = ()
    groups: tuple[GroupTerm, ...] = ()
    group_predictors: tuple[str, ...] = ()
    family: str = "bernoulli"
    trials: str | None = None
    label: str = ""
    reference_levels: dict[str, str] = field(default_factory=dict)
    weights: str | None = None
    strata: str | None = None
    psu: str | None = None
    published_model: int | None = None
    priors: PriorSpec = field(default_factory=PriorSpec)
    sampler: dict[str, float] = field(default_factory=dict)
    weighted_likelihood: bool = False
    source: str = field(default="<dict>", compare=False)

    @property
    def formula(self) -> str:
        """The spec written back as an lme4/brms formula (interactions as ``a:b``)."""
        rhs = " + ".join(self.terms) or "1"
        for group in self.groups:
            rhs += f" + {group.formula}"
        return f"{self.outcome} ~ {rhs}"

    @property
    def random_intercepts_only(self) -> bool:
        """Whether this is a Bernoulli or binomial model with random intercepts only.

        No slopes and no group-level predictors: what the random-intercept log-density, its JAX
        copy, the calibration study and NumPy prior draws cover.
        """
        return (
            self.family in ("bernoulli", "binomial")
            and not any(group.slopes for group in self.groups)
            and not self.group_predictors
        )

    def used_columns(self) -> list[str]:
        """Every data column the spec reads."""
        cols = [self.outcome, *self.predictors]
        cols += [c for g in self.groups for c in g.factor]
        cols += [c for c in (self.trials, self.weights, self.strata, self.psu) if c]
        return list(dict.fromkeys(cols))

    def missing_columns_message(self, available: list[str]) -> str | None:
        """Name the columns of the spec that ``available`` lacks, with the terms using them.

        Returns None when every column the spec reads is available; else one line naming the
        spec file, the columns and the formula terms (or grouping terms) that use them.
        """
        missing = [c for c in self.used_columns() if c not in set(available)]
        if not missing:
            return None
        uses = [t for t in self.terms if set(t.split(":")) & set(missing)]
        uses += [g.formula for g in self.groups if set(g.factor) & set(missing)]
        where = f" (used by {', '.join(uses)})" if uses else ""
        return (
            f"{self.source}: model {self.name!r} needs columns {missing}{where} that the data lacks"
        )


_NAME = r"[A-Za-z_][A-Za-z0-9_]*"


@dataclass(frozen=True)
class GroupTerm:
    """One grouping factor of a formula with the terms that vary by it.

    Attributes
    ----------
    factor
        Columns whose combinations define the groups: ``("province",)`` for ``(1 | province)``,
        ``("province", "city")`` for the city-within-province term of ``(1 | province/city)``.
    slopes
        Fixed terms with a random slope by this factor (``"a"`` or ``"a:b"``).
    intercept
        Whether the factor has a random intercept: ``False`` for ``(0 + a | group)``, whose
        slopes are then independent of one another (no correlation matrix).
    """

    factor: tuple[str, ...]
    slopes: tuple[str, ...] = ()
    intercept: bool = True

    @property
    def name(self) -> str:
        """Name of the factor in the model: ``province``, or ``province_city`` when nested."""
        return "_".join(self.factor)

    @property
    def formula(self) -> str:
        """The term written back, e.g. ``(1 + a | province:city)``."""
        first = "1" if self.intercept else "0"
        return f"({' + '.join([first, *self.slopes])} | {':'.join(self.factor)})"


@dataclass(frozen=True)
class ParsedFormula(_FirstGroup):
    """The parts of an lme4-style formula.

    ``terms`` are the fixed terms, interactions joined by ``:``; ``predictors`` the distinct
    variables they use; ``groups`` the grouping factors in the order of the formula.
    """

    outcome: str
    predictors: tuple[str, ...]
    terms: tuple[str, ...] = ()
    groups: tuple[GroupTerm, ...] = ()


def _term_name(term, formula: str) -> str:
    """Name a formulae ``Term`` of plain variables ``a`` or ``a:b``; SpecError otherwise."""
    names = []
    for component in term.components:
        if type(component).__name__ != "Variable" or not re.fullmatch(_NAME, component.name):
            raise SpecError(
                f"cannot read term {str(term)!r} in {formula!r}: use variable names, "
                "interactions a:b or a*b, (1 | group) or (1 + variable | group)"
            )
        names.append(component.name)
    return ":".join(names)


def parse_formula(formula: str) -> ParsedFormula:
    """Split an lme4-style formula into outcome, fixed terms and grouping factors.

    The formula is read by `formulae <https://bambinos.github.io/formulae/>`_ (Bambi's parser),
    so ``a*b`` expands to ``a + b + a:b`` and ``(1 | province/city)`` to
    ``(1 | province) + (1 | province:city)``.

    Parameters
    ----------
    formula
        For example ``"health_record ~ income_quartile + hukou + (1 | province)"``,
        ``"y ~ a * b + (1 | province) + (1 | city)"`` or
        ``"health_record ~ hukou + movement + (1 + hukou | province)"``.

    Returns
    -------
    ParsedFormula
        ``groups`` is empty when the formula has no group term.

    Raises
    ------
    SpecError
        On function calls, a term given twice, a formula formulae cannot read, or random slopes
        of terms that are not fixed terms.
    """
    import formulae

    if formula.count("~") != 1:
        raise SpecError(f"formula must contain exactly one '~': {formula!r}")
    lhs, rhs = (side.strip() for side in formula.split("~"))
    if not re.fullmatch(_NAME, lhs):
        raise SpecError(f"outcome must be one variable name, got {lhs!r} in {formula!r}")
    written = [t.strip() for t in _split_top_level(rhs) if t.strip() not in ("", "1")]
    doubled = sorted({t for t in written if written.count(t) > 1})
    if doubled:
        raise SpecError(f"term {doubled[0]!r} appears twice in {formula!r}")
    try:
        description = formulae.model_description(f"{lhs} ~ {rhs}")
    except Exception as err:  # formulae raises several kinds of parse errors
        raise SpecError(f"cannot read formula {formula!r}: {err}") from err
    terms: list[str] = []
    groups: dict[tuple[str, ...], list[str]] = {}
    with_intercept: set[tuple[str, ...]] = set()
    for term in description.terms:
        kind = type(term).__name__
        if kind == "Intercept":
            continue
        if kind == "GroupSpecificTerm":
            factor = tuple(_term_name(term.factor, formula).split(":"))
            slopes = groups.setdefault(factor, [])
            if type(term.expr).__name__ != "Intercept":
                slopes.append(_term_name(term.expr, formula))
            else:
                with_intercept.add(factor)
        else:
            terms.append(_term_name(term, formula))
    for slopes in groups.values():
        stray = [v for v in slopes if v not in terms]
        if stray:
            raise SpecError(f"random slopes {stray} must also be fixed terms in {formula!r}")
    predictors = tuple(dict.fromkeys(v for t in terms for v in t.split(":")))
    return ParsedFormula(
        lhs,
        predictors,
        tuple(terms),
        tuple(
            GroupTerm(factor, tuple(slopes), factor in with_intercept)
            for factor, slopes in groups.items()
        ),
    )


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


def _sampler_settings(raw: object, source: str) -> dict[str, float]:
    """Check a spec's ``sampler:`` mapping key by key against :data:`SAMPLER_RANGES`."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: sampler must be a mapping such as {{draws: 1000, tune: 500}}")
    problems = []
    settings: dict[str, float] = {}
    for key, value in raw.items():
        if key not in SAMPLER_RANGES:
            problems.append(
                f"unknown sampler setting {key!r}; allowed keys: {sorted(SAMPLER_KEYS)}"
            )
            continue
        kind, low, high, allowed = SAMPLER_RANGES[key]
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        whole = number is not None and float(number).is_integer()
        if kind is int:
            good = whole and low <= number <= high
        else:
            good = number is not None and low <= number < high
        if not good:
            problems.append(f"sampler key {key!r} must be {allowed}, got {value!r}")
        else:
            settings[key] = int(number) if kind is int else float(number)
    if problems:
        raise SpecError(f"{source}: " + "; ".join(problems))
    return settings


def _family(raw: dict, source: str) -> tuple[str, str | None]:
    """Read the ``family:`` (default ``bernoulli``) and, for ``binomial``, its ``trials:``."""
    family = str(raw.get("family") or "bernoulli")
    if family not in FAMILIES:
        raise SpecError(f"{source}: unknown family {family!r}; choose one of {sorted(FAMILIES)}")
    trials = str(raw["trials"]) if raw.get("trials") else None
    if (family == "binomial") != (trials is not None):
        raise SpecError(
            f"{source}: a 'trials:' column (the number of trials of each row) goes with "
            f"family binomial and only with it; family is {family!r}"
        )
    return family, trials


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
        "family",
        "trials",
        "strata",
        "psu",
    }
    if unknown:
        raise SpecError(f"{source}: unknown keys {sorted(unknown)}")
    for key in ("name", "formula"):
        if key not in raw:
            raise SpecError(f"{source}: missing required key {key!r}")
    try:
        parsed = parse_formula(str(raw["formula"]))
    except SpecError as err:
        raise SpecError(f"{source}: {err}") from err
    family, trials = _family(raw, source)
    if sum(bool(g.slopes) for g in parsed.groups) > 1:
        raise SpecError(
            f"{source}: random slopes by more than one grouping factor are not supported yet "
            f"({', '.join(g.formula for g in parsed.groups if g.slopes)})"
        )
    priors_raw = raw.get("priors") or {}
    try:
        priors = PriorSpec(**{k: float(v) for k, v in priors_raw.items()})
    except (TypeError, ValueError, AttributeError) as err:
        raise SpecError(f"{source}: bad priors {priors_raw}: {err}") from err
    if min(v for v in vars(priors).values() if v is not None) <= 0:
        raise SpecError(f"{source}: prior scales must be positive, got {priors}")
    references = {str(k): str(v) for k, v in (raw.get("reference_levels") or {}).items()}
    stray = set(references) - set(parsed.predictors)
    if stray:
        raise SpecError(f"{source}: reference_levels for variables not in the formula: {stray}")
    sampler = _sampler_settings(raw.get("sampler"), source)
    group_predictors = tuple(str(v) for v in raw.get("group_predictors") or ())
    try:
        weighted_likelihood = as_bool(
            raw.get("weighted_likelihood", False), "weighted_likelihood", source
        )
    except ValueError as err:
        raise SpecError(str(err)) from err
    if weighted_likelihood and not raw.get("weights"):
        raise SpecError(f"{source}: weighted_likelihood needs a 'weights:' column")
    if group_predictors and parsed.group is None:
        raise SpecError(f"{source}: group_predictors need a group term in the formula")
    if group_predictors and len(parsed.groups) > 1:
        raise SpecError(f"{source}: group_predictors need exactly one group term")
    return ModelSpec(
        name=str(raw["name"]),
        label=str(raw.get("label", raw["name"])),
        outcome=parsed.outcome,
        predictors=parsed.predictors,
        terms=parsed.terms,
        groups=parsed.groups,
        family=family,
        trials=trials,
        source=source,
        group_predictors=group_predictors,
        sampler=sampler,
        weighted_likelihood=weighted_likelihood,
        reference_levels=references,
        weights=str(raw["weights"]) if raw.get("weights") else None,
        strata=str(raw["strata"]) if raw.get("strata") else None,
        psu=str(raw["psu"]) if raw.get("psu") else None,
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
    try:
        raw = load_yaml(text)
    except yaml.YAMLError as err:
        raise SpecError(f"{source}: not valid YAML ({err})") from err
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
    if spec.family != "bernoulli":  # written only when set, so existing fits keep their key
        body["family"] = spec.family
    if spec.trials:
        body["trials"] = spec.trials
    for key in ("strata", "psu"):  # also only when set
        if getattr(spec, key):
            body[key] = getattr(spec, key)
    return yaml.safe_dump(body, sort_keys=False)
