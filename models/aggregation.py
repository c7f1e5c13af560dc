r"""Exact aggregation of respondents with identical covariates in the same group.

The logistic log-likelihood of respondents who share every predictor value and the group is a
function of their number and their number of successes only, so

.. math::

    \sum_{i \in c} w_i \left[y_i \eta_c - \log(1 + e^{\eta_c})\right]
    = \Big(\sum_{i \in c} w_i y_i\Big)\eta_c
      - \Big(\sum_{i \in c} w_i\Big)\log(1 + e^{\eta_c})

for each covariate pattern :math:`c` (with :math:`w_i = 1` when unweighted). Replacing the rows
by one row per pattern leaves the posterior unchanged and makes each gradient cheaper by the
ratio of rows to patterns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class AggregatedRows:
    """One row per covariate pattern within a group.

    Attributes
    ----------
    X
        ``(patterns, terms)`` predictor values of each pattern.
    successes, trials
        Per pattern: (weighted) count of records and of respondents.
    group_idx
        ``(patterns, factors)`` level of each pattern in each grouping factor.
    """

    X: np.ndarray
    successes: np.ndarray
    trials: np.ndarray
    group_idx: np.ndarray

    @property
    def n_patterns(self) -> int:
        """Number of rows after aggregation."""
        return len(self.trials)


def aggregate_rows(
    X: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray,
    group_idx: np.ndarray,
    trials: np.ndarray | None = None,
) -> AggregatedRows:
    """Collapse rows that share the group and every predictor value.

    Parameters
    ----------
    X
        ``(rows, terms)`` predictors.
    y
        Successes per row (0/1 for a Bernoulli outcome).
    weights
        Weight of each row's log-likelihood (ones when unweighted).
    group_idx
        Level index per row: ``(rows,)`` for one grouping factor or ``(rows, factors)`` for
        several (``(rows, 0)``: none).
    trials
        Trials per row (binomial outcome); ones when ``None``.

    Returns
    -------
    AggregatedRows
        Patterns in sorted order (deterministic for given input).
    """
    n_rows = len(y)
    group_idx = np.asarray(group_idx).reshape(n_rows, -1)
    n_factors = group_idx.shape[1]
    keys = np.column_stack([group_idx.astype(float), X])
    patterns, inverse = np.unique(keys, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    n_patterns = len(patterns)
    successes = np.bincount(inverse, weights=weights * y, minlength=n_patterns)
    row_trials = np.ones(n_rows) if trials is None else np.asarray(trials, dtype=float)
    trials = np.bincount(inverse, weights=weights * row_trials, minlength=n_patterns)
    return AggregatedRows(
        X=np.ascontiguousarray(patterns[:, n_factors:]),
        successes=successes,
        trials=trials,
        group_idx=patterns[:, :n_factors].astype(np.int64),
    )
