r"""Merlo's contextual measures with posterior intervals, for multilevel models with a logit link.

For grouping factors :math:`g = 1, \dots, G` with intercept SDs :math:`\sigma_g` (posterior
draws), on the latent logistic scale (residual variance :math:`\pi^2/3`, also for the cumulative
logit):

* **ICC / variance partition** of factor :math:`g`: :math:`\sigma_g^2 / (\sum_h \sigma_h^2 +
  \pi^2/3)`; the factor's **share** of the between-group variance:
  :math:`\sigma_g^2 / \sum_h \sigma_h^2` (province vs city).
* **MOR** (median odds ratio) of factor :math:`g`: :math:`\exp(\sqrt{2\sigma_g^2}\,
  \Phi^{-1}(0.75))`; of all factors together with :math:`\sum_h \sigma_h^2` (two like people
  in two random cities of two random provinces).
* **IOR-80** (80% interval odds ratio) of a standardised group-level predictor with coefficient
  :math:`\gamma`: :math:`[\exp(\gamma + \sqrt{2\sigma^2}\Phi^{-1}(0.1)),\ \exp(\gamma +
  \sqrt{2\sigma^2}\Phi^{-1}(0.9))]`, :math:`\sigma` the factor's residual SD: the middle 80%
  of odds ratios between like people in groups one SD apart on the predictor. An interval
  containing 1 says the between-group variation swamps the predictor's effect.
* **PCV** (proportional change in variance) from a reference model to another:
  :math:`(\sigma^2_{\text{ref}} - \sigma^2) / \sigma^2_{\text{ref}}`, with draws of the two
  (independent) posteriors paired at random, seeded.

Each measure is summarised by its posterior median and equal-tailed 95% interval (Merlo et al.
2006, *J Epidemiol Community Health* 60:290; Larsen and Merlo 2005, *Am J Epidemiol* 161:81).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr
from scipy import stats

from cmds_common.constants import DEFAULT_SEED, INTERVAL_PROB
from cmds_common.spec import ModelSpec

#: Families with a logit link (latent residual variance pi^2 / 3).
LOGIT_FAMILIES = ("bernoulli", "binomial", "cumulative_logit")
LATENT_VARIANCE = np.pi**2 / 3


def median_odds_ratio(variance: np.ndarray) -> np.ndarray:
    """MOR of a between-group variance (array of draws)."""
    return np.exp(np.sqrt(2 * variance) * stats.norm.ppf(0.75))


def interval_odds_ratio(
    gamma: np.ndarray, variance: np.ndarray, prob: float = 0.8
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bound of the IOR-``prob`` (default 80%) for coefficient draws ``gamma``."""
    spread = np.sqrt(2 * variance) * stats.norm.ppf(0.5 + prob / 2)
    return np.exp(gamma - spread), np.exp(gamma + spread)


def group_variances(posterior: xr.Dataset, spec: ModelSpec) -> dict[str, np.ndarray]:
    """Draws of each random-intercept factor's variance ``{factor: (samples,)}``."""
    return {
        g.name: posterior[f"{g.name}_sigma"].to_numpy().ravel() ** 2
        for g in spec.groups
        if g.intercept
    }


def _summary(measure: str, factor: str, draws: np.ndarray, interval_prob: float) -> dict:
    tail = (1 - interval_prob) / 2
    low, median, high = np.quantile(draws, [tail, 0.5, 1 - tail])
    return {"measure": measure, "factor": factor, "median": median, "low": low, "high": high}


def contextual_measures(
    posterior: xr.Dataset, spec: ModelSpec, interval_prob: float = INTERVAL_PROB
) -> pd.DataFrame:
    """ICC, share, MOR per factor, total MOR and ICC, IOR-80 of group predictors.

    Parameters
    ----------
    posterior
        A fit's posterior with ``<factor>_sigma`` (and ``<factor>_gamma``, dim
        ``group_predictor``, when the spec has group-level predictors).
    spec
        The fit's spec; its family must have a logit link.

    Returns
    -------
    pandas.DataFrame
        ``measure`` (``icc``, ``share_of_between_variance``, ``mor``, ``ior80_low``,
        ``ior80_high``), ``factor`` (a grouping factor, ``all`` or ``factor:predictor``),
        ``median``, ``low``, ``high``. Empty when the model has no random intercept.
    """
    if spec.family not in LOGIT_FAMILIES:
        raise ValueError(f"contextual measures need a logit link; {spec.name} is {spec.family}")
    variances = group_variances(posterior, spec)
    if not variances:
        return pd.DataFrame(columns=["measure", "factor", "median", "low", "high"])
    total = sum(variances.values())
    rows = []
    for factor, variance in variances.items():
        rows.append(_summary("icc", factor, variance / (total + LATENT_VARIANCE), interval_prob))
        if len(variances) > 1:
            rows.append(
                _summary("share_of_between_variance", factor, variance / total, interval_prob)
            )
        rows.append(_summary("mor", factor, median_odds_ratio(variance), interval_prob))
    if len(variances) > 1:
        rows.append(_summary("icc", "all", total / (total + LATENT_VARIANCE), interval_prob))
        rows.append(_summary("mor", "all", median_odds_ratio(total), interval_prob))
    if spec.group_predictors:
        gamma = posterior[f"{spec.group}_gamma"]
        for predictor in gamma["group_predictor"].values:
            draws = gamma.sel(group_predictor=predictor).to_numpy().ravel()
            low, high = interval_odds_ratio(draws, variances[spec.group])
            name = f"{spec.group}:{predictor}"
            rows.append(_summary("ior80_low", name, low, interval_prob))
            rows.append(_summary("ior80_high", name, high, interval_prob))
    return pd.DataFrame(rows)


def proportional_change_in_variance(
    reference: xr.Dataset,
    other: xr.Dataset,
    factor: str,
    interval_prob: float = INTERVAL_PROB,
    seed: int = DEFAULT_SEED,
) -> dict:
    """PCV of ``factor``'s variance from the ``reference`` posterior to ``other``'s.

    The two posteriors are independent, so pairing their draws at random (seeded; the shorter
    one's draws are reused in turn) gives draws of the PCV.
    """
    ref = reference[f"{factor}_sigma"].to_numpy().ravel() ** 2
    new = other[f"{factor}_sigma"].to_numpy().ravel() ** 2
    n = max(len(ref), len(new))
    rng = np.random.default_rng(seed)
    ref = rng.permutation(np.resize(ref, n))
    new = rng.permutation(np.resize(new, n))
    return _summary("pcv", factor, (ref - new) / ref, interval_prob)


def pcv_notes(table: pd.DataFrame, labels: dict[str, str] | None = None) -> list[str]:
    r"""Plain-words cautions for the PCV rows of a contextual-measures table.

    A PCV below 0 says the grouping factor's variance is larger than in the reference model.
    In a multilevel logit that is expected even when nothing about the groups changed:
    predictors that explain differences between individuals stretch the latent scale, whose
    individual-level variance is fixed at :math:`\pi^2/3`, and the group variance, measured on
    that scale, grows with it (rescaling; Hox, Moerbeek and van de Schoot 2018, *Multilevel
    Analysis*, 3rd ed.). An interval containing 0 says the data do not show that the predictors
    account for any of the variation between groups.

    Parameters
    ----------
    table
        Rows of :func:`contextual_measures` and :func:`proportional_change_in_variance`:
        columns ``model``, ``measure``, ``factor``, ``median``, ``low``, ``high``.
    labels
        Model code -> label shown (the code where absent).

    Returns
    -------
    list of str
        One sentence per kind of caution (negative median; interval containing 0); empty when
        no PCV row needs one.
    """
    labels = labels or {}
    pcv = table[table["measure"] == "pcv"]
    negative = [
        labels.get(str(row.model), str(row.model)) for row in pcv.itertuples() if row.median < 0
    ]
    spans_zero = [
        labels.get(str(row.model), str(row.model))
        for row in pcv.itertuples()
        if row.low < 0 < row.high
    ]
    notes = []
    if negative:
        notes.append(
            "PCV below 0 (" + "; ".join(dict.fromkeys(negative)) + "): the between-group "
            "variance is larger than in the reference model. In a multilevel logit this is "
            "expected when the added predictors explain differences between individuals: they "
            "stretch the latent scale (its individual-level variance is fixed at π²/3) and "
            "the group variance grows with it. It does not mean the predictors made the groups "
            "more different."
        )
    if spans_zero:
        notes.append(
            "The PCV interval contains 0 ("
            + "; ".join(dict.fromkeys(spans_zero))
            + "): the data do not show that the predictors account for any of the variation "
            "between groups."
        )
    return notes


def unconverged_note(label: str, failures: list[str] | None = None) -> str:
    """Return the note, under the contextual measures, for a fit failing the convergence checks.

    Parameters
    ----------
    label
        The model as shown.
    failures
        Its failure lines (:func:`analysis.convergence.failure_messages`); ``None``: not listed.
    """
    listed = f" ({'; '.join(failures)})" if failures else ""
    return (
        f"NOT TO BE TRUSTED: {label} fails the convergence checks{listed}; its contextual "
        "measures, and any PCV that uses it, are unreliable."
    )
