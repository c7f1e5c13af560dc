"""Design matrices from a spec and a typed analysis table (shared by both fits)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cmds_common.provinces import province_covariates
from cmds_common.spec import GroupTerm, ModelSpec, SpecError


@dataclass(frozen=True)
class GroupDesign:
    """One grouping factor on the data: name, each row's group index and the group labels.

    ``levels`` of a nested factor such as ``province:city`` are ``"Guangdong:Shenzhen"``;
    ``slope_columns`` are the columns of ``X`` whose slopes vary by this factor; ``intercept``
    is ``False`` for a ``(0 + a | group)`` term (slopes only).
    """

    name: str
    idx: np.ndarray
    levels: list[str]
    slope_columns: list[int] = field(default_factory=list)
    intercept: bool = True


@dataclass(frozen=True)
class Design:
    """Numerical form of a spec applied to a data set.

    Attributes
    ----------
    X
        ``(n_obs, n_terms)`` predictors: 0/1 indicators for non-reference levels, continuous
        predictors centred at their sample mean, and interaction columns, the products of
        their variables' columns.
    terms
        Term names, ``variable_level`` for indicators, ``variable`` for continuous terms and
        ``a_level:b_level`` for interactions.
    term_scales
        SD of each column (1 for indicators and products of indicators), used to scale
        coefficient priors.
    continuous_centres
        Mean subtracted from each continuous predictor.
    y
        Outcome: 0/1 (bernoulli), successes (binomial), numbers (gaussian) or category codes
        0..K-1 (cumulative_logit).
    weights
        Sampling weights scaled to mean 1 (all ones when the spec has none).
    group_idx, group_levels
        Index of each row's group and the group names of the first grouping factor (empty when
        no group term); ``groups`` holds every factor.
    slope_columns
        Columns of ``X`` with random slopes by the first group (all indicator columns of each
        slope variable), and ``slope_terms`` their names.
    group_X, group_predictor_names
        ``(n_groups, k)`` group-level predictors, z-scored across groups.
    family, trials, outcome_levels
        The outcome family, the trials of each row (binomial; ones otherwise) and the ordered
        categories of a cumulative_logit outcome.
    strata, psu
        The survey design of the frequentist fit: each row's stratum and primary sampling unit
        as integer codes (PSUs numbered within strata, so a PSU label may repeat across
        strata); ``None`` when the spec names none (one stratum; each row its own PSU).
    """

    X: np.ndarray
    terms: list[str]
    term_scales: np.ndarray
    continuous_centres: dict[str, float]
    y: np.ndarray
    weights: np.ndarray
    group_idx: np.ndarray
    group_levels: list[str]
    slope_columns: list[int] = field(default_factory=list)
    group_X: np.ndarray = field(default_factory=lambda: np.empty((0, 0)))
    group_predictor_names: list[str] = field(default_factory=list)
    groups: list[GroupDesign] = field(default_factory=list)
    family: str = "bernoulli"
    trials: np.ndarray | None = None
    outcome_levels: list[str] = field(default_factory=list)
    strata: np.ndarray | None = None
    psu: np.ndarray | None = None

    @property
    def slope_terms(self) -> list[str]:
        """Names of the terms with random slopes."""
        return [self.terms[k] for k in self.slope_columns]


def _check_columns(data: pd.DataFrame, spec: ModelSpec) -> None:
    message = spec.missing_columns_message(list(data.columns))
    if message:
        raise SpecError(f"{message}; available: {sorted(data.columns)}")


def _variable_columns(
    data: pd.DataFrame, spec: ModelSpec, variable: str, centres: dict[str, float]
) -> tuple[list[np.ndarray], list[str], bool]:
    """Columns and names of one variable: indicators of non-reference levels, or centred."""
    values = data[variable]
    if isinstance(values.dtype, pd.CategoricalDtype):
        levels = list(values.cat.categories)
        reference = spec.reference_levels.get(variable, levels[0])
        if reference not in levels:
            raise SpecError(f"reference level {reference!r} of {variable!r} is not one of {levels}")
        kept = [level for level in levels if level != reference]
        columns = [(values == level).to_numpy(dtype=float) for level in kept]
        return columns, [f"{variable}_{level}" for level in kept], True
    if pd.api.types.is_numeric_dtype(values):
        numeric = values.to_numpy(dtype=float)
        centres[variable] = float(numeric.mean())
        return [numeric - centres[variable]], [variable], False
    raise SpecError(f"column {variable!r} is {values.dtype}; expected a categorical or a number")


def _fixed_columns(data: pd.DataFrame, spec: ModelSpec):
    """Columns, names, scales, centres and term -> column indices of the fixed terms."""
    centres: dict[str, float] = {}
    per_variable = {v: _variable_columns(data, spec, v, centres) for v in spec.predictors}
    columns, names, scales, term_columns = [], [], [], {}
    for term in spec.terms:
        parts = [per_variable[v] for v in term.split(":")]
        first = len(names)
        for combo in itertools.product(*(zip(p[0], p[1], strict=True) for p in parts)):
            column = np.prod([c for c, _ in combo], axis=0)
            columns.append(column)
            names.append(":".join(n for _, n in combo))
            indicator = all(p[2] for p in parts)
            scales.append(1.0 if indicator else float(column.std()) or 1.0)
        term_columns[term] = list(range(first, len(names)))
    return columns, names, scales, centres, term_columns


def build_design(data: pd.DataFrame, spec: ModelSpec) -> Design:
    """Build the design of ``spec`` on ``data``.

    Parameters
    ----------
    data
        Typed analysis table: categoricals as ``pandas.Categorical`` (first category is the
        default reference level), continuous predictors numeric; the outcome as the family
        needs it (0/1, counts, numbers, or an ordered categorical).
    spec
        The model spec.

    Returns
    -------
    Design
        Matrices and labels for the frequentist and Bayesian fits.
    """
    _check_columns(data, spec)
    columns, terms, scales, centres, term_columns = _fixed_columns(data, spec)
    y, trials, outcome_levels = _outcome(data, spec)
    if spec.weights:
        weights = data[spec.weights].to_numpy(dtype=float)
        weights = weights / weights.mean()
    else:
        weights = np.ones(len(data))
    groups = [_group_design(data, spec, g, term_columns) for g in spec.groups]
    first = groups[0] if groups else GroupDesign("", np.zeros(len(data), dtype=np.int64), [])
    X = np.column_stack(columns) if columns else np.empty((len(data), 0))
    return Design(
        X=X,
        terms=terms,
        term_scales=np.asarray(scales),
        continuous_centres=centres,
        y=y,
        weights=weights,
        group_idx=first.idx,
        group_levels=first.levels,
        slope_columns=first.slope_columns,
        group_X=_group_predictors(spec, first.levels),
        group_predictor_names=list(spec.group_predictors),
        groups=groups,
        family=spec.family,
        trials=trials,
        outcome_levels=outcome_levels,
        **_survey_design(data, spec),
    )


def _survey_design(data: pd.DataFrame, spec: ModelSpec) -> dict[str, np.ndarray | None]:
    """Integer codes of the strata and of the PSUs within strata (``None`` when not named)."""
    codes: dict[str, np.ndarray | None] = {"strata": None, "psu": None}
    for key in ("strata", "psu"):
        column = getattr(spec, key)
        if column is None:
            continue
        values = data[column]
        if values.isna().any():
            raise SpecError(
                f"{spec.source}: the {key} column {column!r} has {int(values.isna().sum())} "
                "missing values; every respondent needs one"
            )
        codes[key] = pd.factorize(values.astype(str), sort=True)[0].astype(np.int64)
    if codes["psu"] is not None and codes["strata"] is not None:
        pairs = pd.MultiIndex.from_arrays([codes["strata"], codes["psu"]])
        codes["psu"] = pd.factorize(pairs, sort=True)[0].astype(np.int64)
    return codes


def _outcome(data: pd.DataFrame, spec: ModelSpec) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Return the outcome as the family needs it, the trials per row and the categories."""
    values = data[spec.outcome]
    trials = np.ones(len(data), dtype=np.int64)
    if spec.family == "cumulative_logit":
        if not isinstance(values.dtype, pd.CategoricalDtype) or values.isna().any():
            raise SpecError(
                f"{spec.source}: outcome {spec.outcome!r} of a cumulative_logit model must be an "
                "ordered categorical without missing values"
            )
        levels = [str(c) for c in values.cat.categories]
        if len(levels) < 3:
            raise SpecError(
                f"{spec.source}: outcome {spec.outcome!r} has {len(levels)} categories; a "
                "cumulative_logit model needs 3 or more (use bernoulli for two)"
            )
        return values.cat.codes.to_numpy().astype(np.int64), trials, levels
    y = values.to_numpy()
    if spec.family == "gaussian":
        y = y.astype(float)
        if not np.isfinite(y).all() or y.std() == 0:
            raise SpecError(f"outcome {spec.outcome!r} must be finite numbers that vary")
        return y, trials, []
    if spec.family == "binomial":
        trials = data[spec.trials].to_numpy()
        whole = np.all(np.mod(y, 1) == 0) and np.all(np.mod(trials, 1) == 0)
        if not whole or np.any(y < 0) or np.any(y > trials):
            raise SpecError(
                f"outcome {spec.outcome!r} must be whole numbers from 0 to {spec.trials!r}"
            )
        return y.astype(np.int64), trials.astype(np.int64), []
    if not np.isin(y, (0, 1)).all():
        raise SpecError(f"outcome {spec.outcome!r} must be 0/1")
    return y.astype(np.int64), trials, []


def group_labels(data: pd.DataFrame, factor: tuple[str, ...]) -> pd.Series:
    """Each row's group of a grouping factor, as a categorical.

    A single column keeps all its categories (as the province coords always were); the
    combination of nested columns is labelled ``"Guangdong:Shenzhen"``.
    """
    parts = [
        data[c] if isinstance(data[c].dtype, pd.CategoricalDtype) else data[c].astype("category")
        for c in factor
    ]
    if len(parts) == 1:
        return parts[0]
    labels = parts[0].astype(str)
    for part in parts[1:]:
        labels = labels + ":" + part.astype(str)
    return labels.astype("category")


def _group_design(
    data: pd.DataFrame, spec: ModelSpec, group: GroupTerm, term_columns: dict[str, list[int]]
) -> GroupDesign:
    """Index and labels of one grouping factor (``province:city`` labels for nested ones)."""
    factor = group_labels(data, group.factor)
    present = sorted(str(v) for v in factor.dropna().unique())
    if len(present) < 2:
        raise SpecError(
            f"{spec.source}: the group term {group.formula} of model {spec.name!r} has "
            f"{len(present)} level(s) in the data ({present}); it needs at least 2"
        )
    slopes = [k for term in group.slopes for k in term_columns[term]]
    return GroupDesign(
        group.name,
        factor.cat.codes.to_numpy().astype(np.int64),
        [str(c) for c in factor.cat.categories],
        slopes,
        group.intercept,
    )


def _group_predictors(spec: ModelSpec, group_levels: list[str]) -> np.ndarray:
    if not spec.group_predictors:
        return np.empty((len(group_levels), 0))
    if spec.group != "province":
        raise SpecError("group_predictors are available for the province group only")
    covariates = province_covariates()
    unknown = [c for c in spec.group_predictors if c not in covariates.columns]
    if unknown:
        raise SpecError(
            f"group predictors {unknown} are not columns of cmds_common/province_covariates.csv; "
            f"available: {sorted(covariates.columns)}"
        )
    values = covariates.loc[group_levels, list(spec.group_predictors)].to_numpy(float)
    return (values - values.mean(axis=0)) / values.std(axis=0)
