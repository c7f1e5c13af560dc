"""Seeded recovery of the documented subgroup differences by the partially pooled model."""

from __future__ import annotations

from pathlib import Path

import pytest

from analysis.heterogeneity import difference_table, subgroup_effect_draws
from cmds_common.spec import load_spec
from cmds_common.yaml_text import load_yaml
from data_prep.synthetic_subgroups import generate_subgroup_sample
from models.design import build_design
from models.hierarchical import build_model
from models.sampling import SamplerSettings, sample_posterior

pytestmark = pytest.mark.slow
STUDY = "studies/heterogeneity"


def test_named_subgroup_differences_are_recovered():
    """The default sample (12,000 respondents); a short fit (2 chains x 400 draws).

    Tolerances, for the 12 named differences (3 comparisons x 4 dimensions): every true value
    within 3 posterior SDs of the posterior median, and at least 10 of 12 inside the 95%
    credible interval (12 independent 95% intervals all cover with probability 0.54; at least
    10 with probability 0.98). The true differences are computed with the same like-with-like
    weights as the estimates.
    """
    sample = generate_subgroup_sample()
    settings = load_yaml(Path(STUDY, "study.yaml").read_text(encoding="utf-8"))["heterogeneity"]
    spec = load_spec(f"{STUDY}/specs/heterogeneity.yaml")
    design = build_design(sample.table, spec)
    idata = sample_posterior(
        build_model(design, spec),
        SamplerSettings(
            chains=2,
            draws=400,
            tune=400,
            seed=3,
            sampler="nutpie",
            progress=False,
            target_accept=0.9,
        ),
        attrs={},
    )
    draws = subgroup_effect_draws(idata.posterior, "subgroup")
    truth = sample.slope_truth.rename(columns={"dimension": "term"})
    table = difference_table(
        draws, sample.table, "subgroup", settings["factors"], settings["contrasts"], truth=truth
    )
    off_by = ((table["estimate"] - table["truth"]).abs() / table["sd"]).to_numpy()
    covered = (table["ci_low"] <= table["truth"]) & (table["truth"] <= table["ci_high"])
    shown = table.assign(off_by_sd=off_by)[["comparison", "term", "estimate", "truth", "off_by_sd"]]
    assert off_by.max() < 3, shown
    assert covered.sum() >= 10, shown
