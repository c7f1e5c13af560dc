"""Design matrices from a spec and a typed analysis table (shared by both fits)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from cmds_common.provinces import province_covariates
from cmds_common.spec import ModelSpec, SpecError


@dataclass(frozen=True)
class Design:
    """Numerical form of a spec applied to a data set.

    Attributes
    ----------
    X
        ``(n_obs, n_terms)`` predictors: 0/1 indicators for non-reference levels, continuous
        predictors centred at their sample mean.
    terms
        Term names, ``variable_level`` for indicators and ``variable`` for continuous terms.
    term_scales
        SD of each column (1 for indicators), used to scale coefficient priors.
    continuous_centres
        Mean subtracted from each continuous predictor.
    y
        0/1 outcome.
    weights
        Sampling weights scaled to mean 1 (all ones when the spec has none).
    group_idx, group_levels
        Index of each row's group and the group names (empty when no group term).
    slope_columns
        Columns of ``X`` with random slopes by group (all indicator columns of each slope
        variable), and ``slope_terms`` their names.
    group_X, group_predictor_names
        ``(n_groups, k)`` group-level predictors, z-scored across groups.
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

    @property
    def slope_terms(self) -> list[str]:
        """Names of the terms with random slopes."""
        return [self.terms[k] for k in self.slope_columns]


def _check_columns(data: pd.DataFrame, spec: ModelSpec) -> None:
    missing = [c for c in spec.used_columns() if c not in data.columns]
    if missing:
        raise SpecError(
            f"model {spec.name!r} needs columns {missing} that the data lacks; "
            f"available: {sorted(data.columns)}"
        )


def build_design(data: pd.DataFrame, spec: ModelSpec) -> Design:
    """Build the design of ``spec`` on ``data``.

    Parameters
    ----------
    data
        Typed analysis table: categoricals as ``pandas.Categorical`` (first category is the
        default reference level), continuous predictors numeric, outcome 0/1.
    spec
        The model spec.

    Returns
    -------
    Design
        Matrices and labels for the frequentist and Bayesian fits.
    """
    _check_columns(data, spec)
    columns, terms, scales, centres = [], [], [], {}
    slope_columns: list[int] = []
    for variable in spec.predictors:
        first_new = len(terms)
        values = data[variable]
        if isinstance(values.dtype, pd.CategoricalDtype):
            levels = list(values.cat.categories)
            reference = spec.reference_levels.get(variable, levels[0])
            if reference not in levels:
                raise SpecError(
                    f"reference level {reference!r} of {variable!r} is not one of {levels}"
                )
            for level in levels:
                if level == reference:
                    continue
                columns.append((values == level).to_numpy(dtype=float))
                terms.append(f"{variable}_{level}")
                scales.append(1.0)
        elif pd.api.types.is_numeric_dtype(values):
            numeric = values.to_numpy(dtype=float)
            centres[variable] = float(numeric.mean())
            columns.append(numeric - centres[variable])
            terms.append(variable)
            scales.append(float(numeric.std()) or 1.0)
        else:
            raise SpecError(
                f"column {variable!r} is {values.dtype}; expected a categorical or a number"
            )
        if variable in spec.group_slopes:
            slope_columns.extend(range(first_new, len(terms)))
    y = data[spec.outcome].to_numpy()
    if not np.isin(y, (0, 1)).all():
        raise SpecError(f"outcome {spec.outcome!r} must be 0/1")
    if spec.weights:
        weights = data[spec.weights].to_numpy(dtype=float)
        weights = weights / weights.mean()
    else:
        weights = np.ones(len(data))
    if spec.group:
        group = data[spec.group]
        if not isinstance(group.dtype, pd.CategoricalDtype):
            group = group.astype("category")
        group_idx = group.cat.codes.to_numpy().astype(np.int64)
        group_levels = [str(c) for c in group.cat.categories]
    else:
        group_idx, group_levels = np.zeros(len(data), dtype=np.int64), []
    X = np.column_stack(columns) if columns else np.empty((len(data), 0))
    group_X = _group_predictors(spec, group_levels)
    return Design(
        X=X,
        terms=terms,
        term_scales=np.asarray(scales),
        continuous_centres=centres,
        y=y.astype(np.int64),
        weights=weights,
        group_idx=group_idx,
        group_levels=group_levels,
        slope_columns=slope_columns,
        group_X=group_X,
        group_predictor_names=list(spec.group_predictors),
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
