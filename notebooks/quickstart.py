# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     name: python3
# ---

# %% [markdown]
# # Quick start: a Bayesian multilevel model of health-record uptake from Python
#
# This notebook (a jupytext "percent" script: open it in Jupyter with jupytext, or run it as a
# script) does what `make fit` does for one model, step by step. It uses the embedded synthetic
# sample; pass `cmds.load_data("your_file.sav", codebook="your_codebook.yaml")` for real data.

# %%
import cmds

data = cmds.load_data()  # 3,158 synthetic migrants aged 60+, typed analysis table
data.head()

# %% [markdown]
# Fit a random-intercept logistic model written as in lme4/brms. `draws` and `seed` are the
# sampler's settings; the same seed gives the same numbers.

# %%
fit = cmds.fit(
    "health_record ~ local_medical_insurance + hukou + age_years + (1 | province)",
    data,
    name="insurance_hukou",
    draws=500,
    tune=300,
    seed=1,
)
print(fit)

# %% [markdown]
# Odds ratios with 95% credible intervals, R-hat and effective sample size, beside the
# survey-weighted logistic regression on the same data.

# %%
fit.summary()[["term", "posterior_median_or", "cri_low", "cri_high", "r_hat", "ess_bulk"]]

# %%
fit.converged()  # the convergence gate; prints what failed, if anything

# %%
figure = fit.plot_forest()  # a matplotlib Figure

# %% [markdown]
# Predicted probability of having a health record for two profiles, in Guangdong.

# %%
import pandas as pd

profiles = pd.DataFrame(
    {
        "local_medical_insurance": ["no", "yes"],
        "hukou": ["rural", "rural"],
        "age_years": [68, 68],
        "province": ["Guangdong", "Guangdong"],
    }
)
fit.predict(profiles)

# %% [markdown]
# Posterior predictive checks, a model without the province intercept, and their PSIS-LOO
# comparison.

# %%
checks = fit.ppc()
pooled = cmds.fit(
    "health_record ~ local_medical_insurance + hukou + age_years",
    data,
    name="insurance_hukou_pooled",
    draws=500,
    tune=300,
    seed=1,
)
fit.compare(pooled)[["model", "rank", "elpd_loo", "elpd_diff", "dse"]]
