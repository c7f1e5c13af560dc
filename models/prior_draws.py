r"""Prior and prior-predictive draws stored with every fit (groups ``prior``, ``prior_predictive``).

Every parameter is drawn from its prior (coefficients, intercept, group SDs and offsets,
cut-points, residual SD, as the spec's ``priors:`` set them), then the outcome given those
parameters, seeded with the fit's seed. Two routes give the same distribution:

* **Directly in NumPy** for Bernoulli and binomial models whose grouping terms are random
  intercepts only (the specs the compiled engine samples, Model 2 among them), which spares a
  fit importing PyMC and compiling its forward graph (about a second):

  .. math::

      \alpha \sim \mathcal N(0, s_\alpha^2), \quad
      \beta_k \sim \mathcal N(0, (s_\beta / \operatorname{sd}(x_k))^2), \quad
      \sigma_f \sim \mathcal N^+(0, s_\sigma^2), \quad z_{fj} \sim \mathcal N(0, 1), \quad
      u_{fj} = \sigma_f z_{fj},

  :math:`\eta_i = \alpha + x_i'\beta + \sum_f u_{f, g_f(i)}` and
  :math:`y_i \sim \operatorname{Binomial}(n_i, \operatorname{logit}^{-1}\eta_i)`
  (:math:`n_i = 1`: Bernoulli), the model of :func:`models.hierarchical.build_model`
  (``tests/test_prior_draws.py`` compares the two routes' draws).
* **PyMC's** ``sample_prior_predictive`` on the model of :func:`models.hierarchical.build_model`
  for every other model (random slopes, group predictors, gaussian and ordinal outcomes).
  Random-slopes models are drawn with their intercept's normal prior given directly
  (``direct_intercept=True``): the model that is sampled puts a flat density on the intercept at
  the predictors' means plus a prior term, the same joint prior, but a flat variable cannot be
  drawn from.

Survey weights enter the likelihood only, so they do not change prior draws.

Stored with the fit, the draws let the user's ArviZ compare prior and posterior
(``azp.plot_prior_posterior``) and draw prior-predictive checks without rebuilding the model.
"""

from __future__ import annotations

import warnings

import numpy as np
import xarray as xr
from scipy import special

from cmds_common.spec import ModelSpec
from models.design import Design


def direct_prior_groups(
    design: Design, spec: ModelSpec, draws: int, seed: int
) -> dict[str, xr.Dataset]:
    """Draw the prior and prior predictive of a random-intercept logit model in NumPy.

    Parameters
    ----------
    design
        Output of :func:`models.design.build_design`.
    spec
        The model spec (its ``priors:`` scales), with ``random_intercepts_only`` true.
    draws
        Number of draws (one chain), >= 1.
    seed
        Random seed.

    Returns
    -------
    dict
        As :func:`prior_groups`: ``intercept`` ``(chain, draw)``, ``beta`` ``(chain, draw,
        term)``, per grouping factor ``<name>_sigma``, ``<name>_offset`` and ``<name>_effect``
        (dim the factor's levels), and the outcome (dim ``obs``, int8 when it fits).

    Raises
    ------
    ValueError
        When the spec is not ``random_intercepts_only``.
    """
    if not spec.random_intercepts_only:
        raise ValueError("direct prior draws cover bernoulli/binomial random-intercept models")
    priors = spec.priors
    rng = np.random.default_rng(seed)
    n_terms, n_rows = len(design.terms), len(design.y)
    intercept = rng.normal(0.0, priors.intercept_sd, draws)
    beta = rng.normal(0.0, priors.coefficient_sd / design.term_scales, (draws, n_terms))
    eta = intercept[:, None] + beta @ design.X.T
    parameters: dict[str, tuple[tuple[str, ...], np.ndarray]] = {
        "intercept": ((), intercept),
        "beta": (("term",), beta),
    }
    coords: dict[str, list] = {"term": list(design.terms), "obs": list(range(n_rows))}
    for group in design.groups:
        sigma = np.abs(rng.normal(0.0, priors.group_sd_scale, draws))
        offset = rng.normal(0.0, 1.0, (draws, len(group.levels)))
        effect = sigma[:, None] * offset
        eta += effect[:, group.idx]
        coords[group.name] = list(group.levels)
        parameters[f"{group.name}_sigma"] = ((), sigma)
        parameters[f"{group.name}_offset"] = ((group.name,), offset)
        parameters[f"{group.name}_effect"] = ((group.name,), effect)
    trials = design.trials if design.family == "binomial" else np.ones(n_rows, dtype=np.int64)
    outcome = rng.binomial(trials.astype(np.int64), special.expit(eta))

    def dataset(variables: dict[str, tuple[tuple[str, ...], np.ndarray]]) -> xr.Dataset:
        data_vars = {
            name: (("chain", "draw", *dims), values[None])
            for name, (dims, values) in variables.items()
        }
        used = {dim for dims, _ in variables.values() for dim in dims}
        return xr.Dataset(
            data_vars,
            coords={
                "chain": [0],
                "draw": np.arange(draws),
                **{dim: coords[dim] for dim in used},
            },
        )

    from models.sampling import compact_predictive

    return {
        "prior": dataset(parameters),
        "prior_predictive": compact_predictive(dataset({spec.outcome: (("obs",), outcome)})),
    }


def prior_groups(design: Design, spec: ModelSpec, draws: int, seed: int) -> dict[str, xr.Dataset]:
    """Draw the prior and prior-predictive groups of ``spec``'s model on ``design``.

    Parameters
    ----------
    design
        Output of :func:`models.design.build_design`.
    spec
        The model spec (its ``priors:``).
    draws
        Number of draws (one chain), >= 1.
    seed
        Random seed (the fit's seed: the same fit gives the same prior draws).

    Returns
    -------
    dict
        ``{"prior": Dataset, "prior_predictive": Dataset}`` with dims ``(chain, draw, ...)`` and
        the model's labelled dims; outcomes stored compactly (int8 for 0/1 and categories,
        float32 for gaussian outcomes).

    Raises
    ------
    ValueError
        When ``draws < 1``.
    """
    if draws < 1:
        raise ValueError(f"draws must be >= 1, got {draws}")
    if spec.random_intercepts_only:
        return direct_prior_groups(design, spec, draws, seed)
    return pymc_prior_groups(design, spec, draws, seed)


def pymc_prior_groups(
    design: Design, spec: ModelSpec, draws: int, seed: int
) -> dict[str, xr.Dataset]:
    """Draw :func:`prior_groups` with PyMC's ``sample_prior_predictive`` (any model).

    Parameters and return value as :func:`prior_groups`.
    """
    import pymc as pm

    from models.hierarchical import build_model
    from models.progress_lines import quiet_forward_sampling
    from models.sampling import compact_predictive

    model = build_model(design, spec, direct_intercept=True)
    with model, warnings.catch_warnings(), quiet_forward_sampling():
        # the only potential left is the survey weights' extra likelihood, which priors ignore
        warnings.filterwarnings("ignore", message=".*Potential.*", category=UserWarning)
        drawn = pm.sample_prior_predictive(draws=draws, random_seed=seed)
    prior = drawn.prior.to_dataset()
    keep = [name for name in prior.data_vars if not name.endswith("_idx") and name != "X"]
    return {
        "prior": prior[keep],
        "prior_predictive": compact_predictive(drawn.prior_predictive.to_dataset()),
    }


def attach_prior(
    idata: xr.DataTree,
    design: Design,
    spec: ModelSpec,
    draws: int,
    seed: int,
    groups: dict[str, xr.Dataset] | None = None,
) -> xr.DataTree:
    """Add the ``prior`` and ``prior_predictive`` groups of :func:`prior_groups` to a fit.

    Parameters
    ----------
    idata
        The fit (modified in place and returned).
    design, spec, draws, seed
        As for :func:`prior_groups`; ``draws == 0`` adds nothing.
    groups
        The groups :func:`prior_groups` returned for these arguments, when already drawn
        (:func:`models.fitting.fit_model` draws them while the sampler runs).

    Returns
    -------
    xarray.DataTree
        ``idata``, with ``posterior.attrs["prior_draws"]`` recording the number of draws.
    """
    if draws:
        if groups is None:
            groups = prior_groups(design, spec, draws, seed)
        for name, group in groups.items():
            idata[name] = xr.DataTree(group)
    idata.posterior.attrs["prior_draws"] = draws
    return idata
