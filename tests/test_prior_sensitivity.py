"""Power-scaling sensitivity flags a prior that fights the data, and only then."""

from __future__ import annotations

import pytest

from analysis.sensitivity import prior_sensitivity
from cmds_common.spec import spec_from_dict
from models.design import build_design
from models.hierarchical import build_model
from models.sampling import SamplerSettings, sample_posterior

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("coefficient_sd", "flagged"), [(1.0, False), (0.02, True)])
def test_conflicting_prior_is_flagged(default_table, coefficient_sd, flagged):
    """Local insurance doubles the odds (log OR near 0.8); a N(0, 0.02^2) prior denies it."""
    spec = spec_from_dict(
        {
            "name": "sensitivity",
            "formula": "health_record ~ local_medical_insurance",
            "priors": {"coefficient_sd": coefficient_sd},
        }
    )
    design = build_design(default_table, spec)
    settings = SamplerSettings(
        chains=2, draws=500, tune=300, seed=4, sampler="nutpie", progress=False
    )
    idata = sample_posterior(build_model(design, spec), settings, attrs={})
    table = prior_sensitivity(idata, design, spec).set_index("parameter")
    assert bool(table.loc["beta[local_medical_insurance_yes]", "flagged"]) is flagged
    if flagged:
        assert "conflict" in table.loc["beta[local_medical_insurance_yes]", "diagnosis"]
