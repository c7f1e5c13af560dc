"""Independent agreement with R: ``survey::svyglm`` and ``lme4::glmer`` on the default data.

Skipped, with the reason shown in the test summary, when ``Rscript`` with the ``survey`` and
``lme4`` packages is not installed (Debian: ``apt-get install r-cran-survey r-cran-lme4``).

Both R fits get the project's own design matrix (indicator columns, continuous predictors
centred), so the coefficients are the same quantities. Tolerances:

* weighted logit against ``svyglm(family = quasibinomial, design = svydesign(ids = ~1,
  weights = ~w))``: the same estimator computed two ways, so log-odds within 1e-6 and
  standard errors within 1e-4 relative (both use the linearisation variance with n/(n-1));
* Bayesian random-intercept model (unweighted) against ``glmer(..., family = binomial)``
  (Laplace maximum likelihood): not the same estimator. With 3,158 respondents the posterior
  mean differs from the maximum likelihood estimate by O(1/n), against a standard error of
  O(1/sqrt(n)), and the weakly informative priors pull little; so each coefficient's posterior
  mean must be within 0.2 standard errors of glmer's estimate, each posterior SD within 10% of
  glmer's SE, the province SD within one posterior SD (glmer's estimate is a marginal mode,
  known to sit low), and province effects (posterior means against glmer's conditional modes)
  correlated above 0.98.
"""

from __future__ import annotations

import shutil
import subprocess
import textwrap

import numpy as np
import pandas as pd
import pytest

from cmds_common.spec import load_spec
from models.design import build_design
from models.frequentist import fit_weighted_logit
from models.log_density_sampler import sample_compiled
from models.sampling import SamplerSettings

R_SCRIPT = textwrap.dedent(
    """
    suppressPackageStartupMessages({library(survey); library(lme4)})
    args <- commandArgs(trailingOnly = TRUE)
    d <- read.csv(args[1])
    terms <- setdiff(names(d), c("y", "w", "province"))
    f <- as.formula(paste("y ~", paste(terms, collapse = " + ")))
    design <- svydesign(ids = ~1, weights = ~w, data = d)
    survey_fit <- svyglm(f, design = design, family = quasibinomial())
    write.csv(data.frame(term = names(coef(survey_fit)), estimate = coef(survey_fit),
                         se = sqrt(diag(vcov(survey_fit)))), args[2], row.names = FALSE)
    mixed <- glmer(update(f, . ~ . + (1 | province)), data = d, family = binomial,
                   control = glmerControl(optimizer = "bobyqa"))
    write.csv(data.frame(term = names(fixef(mixed)), estimate = fixef(mixed),
                         se = sqrt(diag(as.matrix(vcov(mixed))))), args[3], row.names = FALSE)
    effects <- ranef(mixed)$province
    write.csv(data.frame(province = rownames(effects), effect = effects[, 1],
                         sigma = rep(attr(VarCorr(mixed)$province, "stddev"), nrow(effects))),
              args[4], row.names = FALSE)
    """
)


def _r_available() -> str | None:
    """Why the R comparison cannot run here, or None when it can."""
    if shutil.which("Rscript") is None:
        return "Rscript not found (apt-get install r-base-core r-cran-survey r-cran-lme4)"
    check = subprocess.run(
        ["Rscript", "-e", "library(survey); library(lme4)"], capture_output=True, text=True
    )
    if check.returncode != 0:
        return (
            "R packages survey and lme4 not installed (apt-get install r-cran-survey r-cran-lme4)"
        )
    return None


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(_r_available() is not None, reason=str(_r_available())),
]


@pytest.fixture(scope="module")
def r_fits(default_table, tmp_path_factory) -> dict[str, pd.DataFrame]:
    """svyglm and glmer fits of Model 2's design, computed by Rscript."""
    spec = load_spec("model2_weighted")
    design = build_design(default_table, spec)
    folder = tmp_path_factory.mktemp("r")
    data = pd.DataFrame(design.X, columns=design.terms)
    data.insert(0, "y", design.y)
    data["w"] = design.weights
    data["province"] = np.asarray(design.group_levels)[design.group_idx]
    data.to_csv(folder / "design.csv", index=False)
    (folder / "fit.R").write_text(R_SCRIPT)
    outputs = [folder / f"{name}.csv" for name in ("svyglm", "glmer", "ranef")]
    subprocess.run(
        ["Rscript", str(folder / "fit.R"), str(folder / "design.csv"), *map(str, outputs)],
        check=True,
        capture_output=True,
        text=True,
    )
    return {path.stem: pd.read_csv(path) for path in outputs}


def _coefficients(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("term").rename(index={"(Intercept)": "intercept"})


def test_weighted_logit_matches_svyglm(default_table, r_fits):
    design = build_design(default_table, load_spec("model2_weighted"))
    ours = fit_weighted_logit(design).set_index("term")
    theirs = _coefficients(r_fits["svyglm"]).loc[ours.index]
    np.testing.assert_allclose(ours["log_odds"], theirs["estimate"], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ours["se"], theirs["se"], rtol=1e-4)


def test_random_intercept_posterior_agrees_with_glmer(default_table, r_fits):
    spec = load_spec("model2")
    design = build_design(default_table, spec)
    settings = SamplerSettings(chains=4, draws=1000, tune=500, seed=5, progress=False)
    idata, _ = sample_compiled(design, spec, settings, pointwise=False)
    posterior = idata.posterior
    glmer = _coefficients(r_fits["glmer"])
    mean = pd.Series(posterior["beta"].mean(("chain", "draw")).values, index=design.terms)
    mean["intercept"] = float(posterior["intercept"].mean())
    sd = pd.Series(posterior["beta"].std(("chain", "draw")).values, index=design.terms)
    sd["intercept"] = float(posterior["intercept"].std())
    glmer = glmer.loc[mean.index]
    shift_in_se = (mean - glmer["estimate"]).abs() / glmer["se"]
    assert shift_in_se.max() <= 0.2, shift_in_se.sort_values().tail()
    np.testing.assert_allclose(sd, glmer["se"], rtol=0.10)

    ranef = r_fits["ranef"].set_index("province")
    sigma = posterior["province_sigma"]
    assert abs(float(sigma.median()) - ranef["sigma"].iloc[0]) <= float(sigma.std())
    effects = pd.Series(
        posterior["province_effect"].mean(("chain", "draw")).values, index=design.group_levels
    )
    assert np.corrcoef(effects, ranef.loc[effects.index, "effect"])[0, 1] > 0.98
