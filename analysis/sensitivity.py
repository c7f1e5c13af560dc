r"""Power-scaling prior and likelihood sensitivity of each parameter (arviz-stats ``psense``).

The posterior is reweighted as if the prior (or the likelihood) were raised to a power
:math:`\alpha` near 1 (Kallioinen et al. 2023, *Statistics and Computing* 34:57); the
cumulative Jensen-Shannon distance of each parameter's marginal per unit of :math:`\log_2
\alpha` measures how much it moves. arviz-stats flags a parameter when its prior sensitivity
exceeds 0.05: together with a high likelihood sensitivity that is a **prior-data conflict**,
with a low one a **strong prior or weak likelihood**.

Only the top-level priors are power-scaled: coefficients, intercept, cut-points, residual and
group SDs. The standard-normal offsets of the non-centred group effects are the population
model of the groups, not a prior one would tune, and are left out (scaling them moves the group
SDs for reasons unrelated to the SD's own prior). Multivariate priors (the LKJ prior of
correlated random slopes, whose Cholesky factor is stored by its packed elements) are left out
too. The log prior density of each of the others (their parameters are constants) is
evaluated at every draw with ``pymc.logp`` on the spec's PyMC model, without the sampling
transforms, as ``pymc.stats.compute_log_prior`` does (which cannot take the ordinal model's
cut-points with their initial values); the stored pointwise log-likelihood is the likelihood
(unweighted, also for a survey-weighted fit, whose sensitivity is therefore approximate).
"""

from __future__ import annotations

import pandas as pd
import xarray as xr

from analysis.ppc import pointwise_posterior
from cmds_common.spec import ModelSpec
from models.design import Design


def _log_prior(posterior, model, names: list[str]) -> xr.Dataset:
    """Elementwise log prior density of each named variable at every posterior draw."""
    import pymc as pm
    import pytensor
    import pytensor.tensor as pt

    out = {}
    for name in names:
        rv, draws = model[name], posterior[name]
        value = pt.tensor(dtype=rv.dtype, shape=(None,) * draws.ndim)
        logp = pytensor.function([value], pm.logp(rv, value))
        out[name] = (draws.dims, logp(draws.to_numpy().astype(rv.dtype)))
    return xr.Dataset(out, coords={d: posterior[d] for n in names for d in posterior[n].dims})


def top_level_priors(model, stored: set[str]) -> list[str]:
    """Free variables whose priors are power-scaled (module docstring), among ``stored``."""
    return [
        rv.name
        for rv in model.free_RVs
        if not rv.name.endswith("_offset")
        and rv.name in stored
        and getattr(rv.owner.op, "ndim_supp", 0) == 0  # the LKJ prior of slopes is left out
    ]


def prior_sensitivity(idata: xr.DataTree, design: Design, spec: ModelSpec) -> pd.DataFrame:
    """Prior and likelihood sensitivity of every top-level parameter of a fit.

    Parameters
    ----------
    idata
        A fit with ``posterior`` and ``log_likelihood`` groups. When the pointwise groups keep
        every k-th draw (``pointwise_thinning``), the posterior draws they kept are used.
    design, spec
        The design and spec it was fitted with (the PyMC model is rebuilt from them).

    Returns
    -------
    pandas.DataFrame
        ``parameter``, ``prior``, ``likelihood`` (sensitivities), ``diagnosis`` (arviz-stats'
        words), ``flagged`` (prior sensitivity above 0.05).
    """
    from arviz_stats import psense_summary

    from models.hierarchical import build_model

    model = build_model(design, spec)
    top = top_level_priors(model, set(idata.posterior.data_vars))
    tree = idata.copy()
    tree["posterior"] = xr.DataTree(pointwise_posterior(idata))  # the log-likelihood's draws
    tree["log_prior"] = xr.DataTree(_log_prior(tree.posterior, model, top))
    summary = psense_summary(tree, var_names=top, prior_var_names=top)
    table = summary.reset_index(names="parameter")
    table["flagged"] = table["diagnosis"] != "✓"
    return table
