"""Agreement with R's mixed models for the new families and several grouping factors (slow).

Skipped, with the reason, when ``Rscript`` with ``lme4`` and ``MASS`` is not installed
(``apt-get install r-cran-lme4``; MASS ships with R). The Bayesian models are fitted without
survey weights, like the R fits, on the default data and the project's own design matrix (so the
coefficients are the same quantities), with short chains (2 x 500 draws after 500 warm-up).

* ``glmer(family_doctor ~ x + (1 | province) + (1 | province:city), binomial)`` against the
  PyMC model of ``(1 | province/city)``;
* ``lmer(integration_index ~ x + (1 | province))`` (REML) against the gaussian model;
* ``MASS::polr(self_rated_health_4 ~ x)`` against the pooled cumulative-logit model
  (``ordinal::clmm``, the mixed version, is not on CRAN's Debian builds here; the pooled
  proportional-odds model tests the same likelihood and cut-points).

Tolerances. The Bayesian posterior mean and the maximum-likelihood estimate differ by O(1/n)
against a standard error of O(1/sqrt(n)) with 3,158 respondents and weak priors, and 1,000
draws give a Monte Carlo error of about 0.05 posterior SD; so every coefficient (and cut-point)
must be within 0.25 of R's standard errors of R's estimate, and each posterior SD within 15% of
R's standard error. The cut-points' prior N(0, 1.5^2) is not weak for the lowest cut-point
(-4.2, with 1% of respondents below it): its posterior mean is compared with R's estimate
shrunk by the normal-approximation weight se^-2 / (se^-2 + 1.5^-2), which moves it by 0.07
(0.36 SE), within the same 0.25 SE. Group SDs are marginal modes in R (known to sit low, at 0
for a singular fit) against posterior medians: R's value must lie inside the 95% credible
interval, widened by 0.05 for the city SD, whose R estimate can sit on the boundary. The residual
SD of the gaussian model within 2%.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap

import numpy as np
import pandas as pd
import pytest

from cmds_common.spec import spec_from_dict
from models.design import build_design
from models.sampling import SamplerSettings, sample_spec

TERMS = "local_medical_insurance + settlement_intention + local_friends + hukou + age_years"
#: The default prior SD of the cut-points (``priors.intercept_sd``).
CUT_PRIOR_SD = 1.5
SETTINGS = {"chains": 2, "draws": 500, "tune": 500, "progress": False, "seed": 11}

R_SCRIPT = textwrap.dedent(
    """
    suppressPackageStartupMessages({library(lme4); library(MASS)})
    args <- commandArgs(trailingOnly = TRUE)
    d <- read.csv(args[1])
    d$province <- factor(d$province); d$city <- factor(d$city)
    x <- paste(grep("^x[0-9]+$", names(d), value = TRUE), collapse = " + ")
    fixed <- function(fit) data.frame(term = names(fixef(fit)), estimate = fixef(fit),
                                      se = sqrt(diag(as.matrix(vcov(fit)))))
    sds <- function(fit) { v <- as.data.frame(VarCorr(fit)); setNames(v$sdcor, v$grp) }
    g <- glmer(as.formula(paste("yb ~", x, "+ (1 | province) + (1 | province:city)")), data = d,
               family = binomial, control = glmerControl(optimizer = "bobyqa"))
    out <- fixed(g); s <- sds(g)
    out <- rbind(out, data.frame(term = c("sd_province", "sd_city"),
                                 estimate = c(s[["province"]], s[["province:city"]]), se = NA))
    write.csv(out, args[2], row.names = FALSE)
    l <- lmer(as.formula(paste("yg ~", x, "+ (1 | province)")), data = d, REML = TRUE)
    out <- fixed(l); s <- sds(l)
    out <- rbind(out, data.frame(term = c("sd_province", "sigma"),
                                 estimate = c(s[["province"]], s[["Residual"]]), se = NA))
    write.csv(out, args[3], row.names = FALSE)
    d$yo <- factor(d$yo, ordered = TRUE)
    p <- polr(as.formula(paste("yo ~", x)), data = d, Hess = TRUE, method = "logistic")
    v <- sqrt(diag(vcov(p)))
    write.csv(data.frame(term = c(names(coef(p)), paste0("cut", seq_along(p$zeta))),
                         estimate = c(coef(p), p$zeta), se = v[c(names(coef(p)), names(p$zeta))]),
              args[4], row.names = FALSE)
    """
)


def _r_missing() -> str | None:
    if shutil.which("Rscript") is None:
        return "Rscript not found (apt-get install r-base-core r-cran-lme4)"
    check = subprocess.run(
        ["Rscript", "-e", "library(lme4); library(MASS)"], capture_output=True, text=True
    )
    return None if check.returncode == 0 else "R packages lme4/MASS not installed (r-cran-lme4)"


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(_r_missing() is not None, reason=str(_r_missing())),
]

SPECS = {
    "bernoulli": ("family_doctor", f"family_doctor ~ {TERMS} + (1 | province/city)"),
    "gaussian": ("integration_index", f"integration_index ~ {TERMS} + (1 | province)"),
    "cumulative_logit": ("self_rated_health_4", f"self_rated_health_4 ~ {TERMS}"),
}


@pytest.fixture(scope="module")
def r_fits(default_table, tmp_path_factory):
    designs = {
        family: build_design(default_table, spec_from_dict({"name": family, **_raw(family)}))
        for family in SPECS
    }
    X = designs["bernoulli"].X
    frame = pd.DataFrame(X, columns=[f"x{k}" for k in range(X.shape[1])])
    frame["yb"] = designs["bernoulli"].y
    frame["yg"] = designs["gaussian"].y
    frame["yo"] = designs["cumulative_logit"].y
    frame["province"] = default_table["province"].astype(str).to_numpy()
    frame["city"] = default_table["city"].astype(str).to_numpy()
    folder = tmp_path_factory.mktemp("r_mixed")
    paths = [folder / f for f in ("data.csv", "glmer.csv", "lmer.csv", "polr.csv")]
    frame.to_csv(paths[0], index=False)
    (folder / "fit.R").write_text(R_SCRIPT)
    run = subprocess.run(
        ["Rscript", str(folder / "fit.R"), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    tables = [pd.read_csv(p).set_index("term") for p in paths[1:]]
    return designs, dict(zip(SPECS, tables, strict=True))


def _raw(family: str) -> dict:
    return {"formula": SPECS[family][1], "family": family}


def _posterior(designs, family):
    spec = spec_from_dict({"name": family, **_raw(family)})
    settings = SamplerSettings(sampler="nutpie", **SETTINGS)
    return sample_spec(designs[family], spec, settings, attrs={"model_name": family}).posterior


def _check_coefficients(posterior, reference, names, cut_names=()):
    beta = posterior["beta"]
    mean, sd = beta.mean(("chain", "draw")).to_numpy(), beta.std(("chain", "draw")).to_numpy()
    estimate = reference.loc[names, "estimate"].to_numpy()
    if cut_names:
        cuts = posterior["cutpoints"]
        mean = np.r_[mean, cuts.mean(("chain", "draw")).to_numpy()]
        sd = np.r_[sd, cuts.std(("chain", "draw")).to_numpy()]
        # the cut-points' N(0, 1.5^2) prior pulls an extreme cut-point towards 0: compare with
        # the precision-weighted (normal approximation) combination of R's estimate and prior
        cut_se = reference.loc[list(cut_names), "se"].to_numpy()
        shrink = cut_se**-2 / (cut_se**-2 + CUT_PRIOR_SD**-2)
        estimate = np.r_[estimate, shrink * reference.loc[list(cut_names), "estimate"]]
        names = [*names, *cut_names]
    se = reference.loc[names, "se"]
    np.testing.assert_array_less(np.abs(mean - estimate) / se.to_numpy(), 0.25)
    np.testing.assert_allclose(sd, se.to_numpy(), rtol=0.15)


def _inside(draws, value, widen=0.0):
    low, high = np.quantile(draws.to_numpy().ravel(), [0.025, 0.975])
    assert low - widen <= value <= high + widen, (value, low, high)


def test_glmer_with_province_and_city(r_fits):
    designs, tables = r_fits
    posterior = _posterior(designs, "bernoulli")
    reference = tables["bernoulli"]
    names = [f"x{k}" for k in range(len(designs["bernoulli"].terms))]
    _check_coefficients(posterior, reference, names)
    _inside(posterior["province_sigma"], reference.loc["sd_province", "estimate"])
    _inside(posterior["province_city_sigma"], reference.loc["sd_city", "estimate"], 0.05)


def test_lmer_for_a_gaussian_outcome(r_fits):
    designs, tables = r_fits
    posterior = _posterior(designs, "gaussian")
    reference = tables["gaussian"]
    names = [f"x{k}" for k in range(len(designs["gaussian"].terms))]
    _check_coefficients(posterior, reference, names)
    _inside(posterior["province_sigma"], reference.loc["sd_province", "estimate"])
    sigma = float(posterior["sigma"].mean())
    assert sigma == pytest.approx(reference.loc["sigma", "estimate"], rel=0.02)


def test_polr_for_an_ordinal_outcome(r_fits):
    designs, tables = r_fits
    posterior = _posterior(designs, "cumulative_logit")
    names = [f"x{k}" for k in range(len(designs["cumulative_logit"].terms))]
    cuts = [f"cut{k + 1}" for k in range(len(designs["cumulative_logit"].outcome_levels) - 1)]
    _check_coefficients(posterior, tables["cumulative_logit"], names, cuts)
