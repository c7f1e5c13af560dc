"""How much information unequal survey weights leave: Kish's effective sample size.

Kish's effective sample size ``n_eff = (sum w)^2 / sum w^2`` is the number of equally weighted
respondents that would give a weighted mean the same precision. It equals ``n`` when all weights
are equal and approaches 1 when one weight dominates. Shared by the data step (printed and written
beside the data), the fits (stored with each weighted estimate) and the report.

Rule (documented in the README): a weighted estimate is flagged as **unreliable** when
``n_eff < n / 10`` (the weighted estimate rests on fewer than a tenth of the respondents) or when
the largest weight exceeds :data:`MAX_MEDIAN_RATIO` times the median weight (one respondent
counts like a whole province). Weighted fits are still made, but every weighted estimate carries
the warning.
"""

from __future__ import annotations

import numpy as np

#: Flag when the effective sample size is below this share of the respondents.
MIN_EFFECTIVE_SHARE: float = 0.1
#: Flag when the largest weight is more than this many times the median weight.
MAX_MEDIAN_RATIO: float = 50.0


def weight_summary(weights: np.ndarray) -> dict[str, float | int | bool | str]:
    """Kish effective sample size and weight spread of a weight vector.

    Returns
    -------
    dict
        ``n``, ``kish_n_eff``, ``max_median_ratio``, ``weights_unreliable`` (the rule above)
        and ``weights_message`` (one sentence for readers; empty when nothing is flagged).
    """
    w = np.asarray(weights, dtype=float)
    n = len(w)
    total = w.sum()
    n_eff = float(total**2 / np.sum(w**2)) if n and total > 0 else 0.0
    median = float(np.median(w)) if n else 0.0
    ratio = float(w.max() / median) if n and median > 0 else float("inf")
    unreliable = bool(n_eff < MIN_EFFECTIVE_SHARE * n or ratio > MAX_MEDIAN_RATIO)
    message = (
        f"survey weights are very unequal: Kish effective sample size {n_eff:.1f} of {n} "
        f"respondents, largest weight {ratio:.3g} x the median; weighted estimates rest on a "
        "few respondents and are unreliable"
        if unreliable
        else ""
    )
    return {
        "n": n,
        "kish_n_eff": round(n_eff, 1),
        "max_median_ratio": round(ratio, 3),
        "weights_unreliable": unreliable,
        "weights_message": message,
    }


def describe(summary: dict) -> str:
    """One line: effective sample size and weight spread (for tables, captions and logs)."""
    text = (
        f"Kish effective n = {summary['kish_n_eff']:.0f} of {summary['n']}, "
        f"max/median weight {summary['max_median_ratio']:.3g}"
    )
    return text + (" - UNRELIABLE" if summary["weights_unreliable"] else "")
