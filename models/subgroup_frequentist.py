r"""Frequentist subgroup effects: separate regressions per subgroup, and one interaction model.

Both fit statsmodels' ``OrderedModel`` (logit link, unweighted maximum likelihood, model-based
standard errors from the inverse Hessian), :math:`P(y_i \le k) = \operatorname{logit}^{-1}(c_k -
x_i'\beta)`, the sign of the PyMC cumulative-logit model.

* **Stratified** (:func:`stratified_effects`): the usual practice, one ordinal regression per
  subgroup of the spec's fixed terms (group terms dropped; columns constant within the subgroup,
  such as its own sex or age group, left out). A term's coefficient in subgroup :math:`s` is its
  effect there, with a Wald 95% interval.
* **Interaction** (:func:`interaction_fit`): one regression on everyone whose spec crosses the
  varying terms with the subgroup's defining factors (e.g. ``x * (sex + age_group +
  education_group)``). Subgroup :math:`s`'s effect of column ``x`` is :math:`c_s'\beta`, with
  :math:`c_s` the change of each design column when ``x`` rises by one for the subgroup's members
  (exact, the design is linear in ``x``; averaged over the subgroup's members), and standard
  error :math:`\sqrt{c_s' V c_s}`.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from cmds_common.constants import INTERVAL_PROB
from cmds_common.spec import ModelSpec
from models.design import Design, build_design


def ordered_logit(design: Design) -> tuple[np.ndarray, np.ndarray, bool]:
    """Unweighted proportional-odds logit of a design.

    Returns
    -------
    coefficients, covariance, converged
        ``(k,)`` coefficients of ``design.X`` (cutpoints excluded), their ``(k, k)`` covariance
        (inverse observed information) and whether the score is near zero at the optimum.
    """
    from statsmodels.miscmodels.ordinal_model import OrderedModel

    model = OrderedModel(design.y, design.X, distr="logit")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence is checked from the score below
        result = model.fit(method="bfgs", disp=False, maxiter=5000)
    k = design.X.shape[1]
    params = np.asarray(result.params)
    covariance = np.asarray(result.cov_params())[:k, :k]
    converged = bool(np.abs(model.score(params)).max() < 1e-3 * len(design.y))
    return params[:k], covariance, converged


def _wald(estimate: np.ndarray, se: np.ndarray, interval_prob: float) -> dict[str, np.ndarray]:
    z = stats.norm.ppf(0.5 + interval_prob / 2)
    return {
        "estimate": estimate,
        "se": se,
        "ci_low": estimate - z * se,
        "ci_high": estimate + z * se,
        "p_value": 2 * stats.norm.sf(np.abs(estimate / se)),
    }


def stratified_effects(
    table: pd.DataFrame,
    spec: ModelSpec,
    by: str,
    terms: list[str],
    interval_prob: float = INTERVAL_PROB,
) -> pd.DataFrame:
    """Separate ordinal regressions per level of ``by`` (the field's practice).

    Parameters
    ----------
    table
        Typed analysis table.
    spec
        The spec whose fixed terms each subgroup's regression uses (group terms are dropped).
    by
        Column naming the subgroups (e.g. ``subgroup``).
    terms
        Design columns whose coefficients are reported (continuous terms: the variable's name).

    Returns
    -------
    pandas.DataFrame
        One row per subgroup x term: ``subgroup``, ``term``, ``n``, ``estimate`` (log cumulative
        odds ratio), ``se``, ``ci_low``, ``ci_high``, ``p_value``, ``converged``.
    """
    pooled = dataclasses.replace(spec, groups=())
    rows = []
    for level in table[by].cat.categories:
        subset = table[table[by] == level]
        design = build_design(subset, pooled)
        varying = design.X.std(axis=0) > 0
        design = dataclasses.replace(
            design,
            X=design.X[:, varying],
            terms=[t for t, keep in zip(design.terms, varying, strict=True) if keep],
        )
        coefficients, covariance, converged = ordered_logit(design)
        wanted = [design.terms.index(t) for t in terms]
        wald = _wald(coefficients[wanted], np.sqrt(np.diag(covariance))[wanted], interval_prob)
        frame = pd.DataFrame({"subgroup": str(level), "term": terms, "n": len(subset), **wald})
        rows.append(frame.assign(converged=converged))
    return pd.concat(rows, ignore_index=True)


@dataclass(frozen=True)
class InteractionFit:
    """A single-level interaction model and each subgroup's effect vectors.

    Attributes
    ----------
    terms
        Design columns of the fit.
    coefficients, covariance
        ``(k,)`` estimates and ``(k, k)`` covariance.
    contrasts
        ``{(subgroup, term): c}``: the ``(k,)`` vector with ``c'beta`` = the effect of a one-unit
        rise of ``term`` in that subgroup.
    sizes
        Respondents per subgroup.
    converged
        Whether the fit's score is near zero.
    """

    terms: list[str]
    coefficients: np.ndarray
    covariance: np.ndarray
    contrasts: dict[tuple[str, str], np.ndarray]
    sizes: dict[str, int]
    converged: bool

    def effect(self, weights: dict[tuple[str, str], float]) -> tuple[float, float]:
        """Estimate and SE of ``sum w * c'beta`` over the named (subgroup, term) pairs."""
        vector = sum(w * self.contrasts[key] for key, w in weights.items())
        return float(vector @ self.coefficients), float(np.sqrt(vector @ self.covariance @ vector))


def interaction_fit(
    table: pd.DataFrame, spec: ModelSpec, by: str, terms: list[str]
) -> InteractionFit:
    """Fit the single-level interaction ``spec`` and the effect vector of each subgroup x term.

    Parameters
    ----------
    table
        Typed analysis table.
    spec
        Spec crossing ``terms`` with the factors that define ``by`` (its group terms are dropped).
    by
        Column naming the subgroups.
    terms
        Continuous variables whose subgroup effects are wanted.
    """
    pooled = dataclasses.replace(spec, groups=())
    design = build_design(table, pooled)
    coefficients, covariance, converged = ordered_logit(design)
    contrasts, sizes = {}, {}
    labels = table[by].astype(str).to_numpy()
    n = len(table)
    for term in terms:
        raised = table.copy()
        raised[term] = raised[term] + 1.0
        # one design of both copies, so that continuous columns share one centre
        both = build_design(pd.concat([table, raised], ignore_index=True), pooled).X
        change = both[n:] - both[:n]
        for level in table[by].cat.categories:
            members = labels == str(level)
            contrasts[(str(level), term)] = change[members].mean(axis=0)
            sizes[str(level)] = int(members.sum())
    return InteractionFit(design.terms, coefficients, covariance, contrasts, sizes, converged)


def interaction_effects(
    fit: InteractionFit, terms: list[str], interval_prob: float = INTERVAL_PROB
) -> pd.DataFrame:
    """Each subgroup's effect of each term from an :class:`InteractionFit`, with Wald intervals."""
    rows = []
    for subgroup, n in fit.sizes.items():
        for term in terms:
            estimate, se = fit.effect({(subgroup, term): 1.0})
            rows.append((subgroup, term, n, estimate, se))
    frame = pd.DataFrame(rows, columns=["subgroup", "term", "n", "estimate", "se"])
    wald = _wald(frame["estimate"].to_numpy(), frame["se"].to_numpy(), interval_prob)
    return frame.assign(**{k: v for k, v in wald.items() if k not in ("estimate", "se")})
