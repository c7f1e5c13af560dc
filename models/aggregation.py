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
    codes = pattern_codes([*group_idx.T, *np.asarray(X).T], n_rows)
    if codes is None:  # too many distinct values to number: compare whole rows
        keys = np.column_stack([group_idx.astype(float), X])
        _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    else:
        _, first, inverse = np.unique(codes, return_index=True, return_inverse=True)
    inverse = inverse.ravel()
    n_patterns = len(first)
    successes = np.bincount(inverse, weights=weights * y, minlength=n_patterns)
    row_trials = np.ones(n_rows) if trials is None else np.asarray(trials, dtype=float)
    trials = np.bincount(inverse, weights=weights * row_trials, minlength=n_patterns)
    return AggregatedRows(
        X=np.ascontiguousarray(np.asarray(X, dtype=float)[first]),
        successes=successes,
        trials=trials,
        group_idx=group_idx[first].astype(np.int64),
    )


def pattern_codes(columns: list[np.ndarray], n_rows: int) -> np.ndarray | None:
    """Return one int64 code per row, equal for equal rows and sorting as the rows do.

    Each column's values are replaced by their rank among the column's distinct values, and the
    ranks are combined in mixed radix, the first column the most significant, so codes sort
    lexicographically (numerically, column by column). Sorting one int64 key instead of whole rows
    keeps a 1.5-million-row design's aggregation to about a second and one extra column of
    memory.

    Parameters
    ----------
    columns
        Columns of length ``n_rows`` (group indices, then predictors).
    n_rows
        Number of rows (for zero columns).

    Returns
    -------
    numpy.ndarray or None
        ``(n_rows,)`` int64 codes, or ``None`` when the product of the columns' numbers of
        distinct values does not fit in 62 bits.
    """
    codes = np.zeros(n_rows, dtype=np.int64)
    radix = 1
    for column in columns:
        _, ranks = np.unique(column, return_inverse=True)
        levels = int(ranks.max()) + 1 if len(ranks) else 1
        radix *= levels
        if radix >= 2**62:
            return None
        codes = codes * levels + ranks.ravel()
    return codes
