from __future__ import annotations

from cmds_common import runtime

runtime.configure()  # before any test module imports PyTensor or ArviZ

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from data_prep.analysis_dataset import to_analysis_table  # noqa: E402
from data_prep.synthetic import generate_synthetic  # noqa: E402
from data_prep.variables import synthetic_declarations  # noqa: E402


@pytest.fixture(scope="session")
def default_sample() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The embedded default data (typed, as ``make data`` writes it) and its province truth."""
    raw, truth = generate_synthetic()
    return to_analysis_table(raw, synthetic_declarations()), truth


@pytest.fixture(scope="session")
def default_table(default_sample) -> pd.DataFrame:
    return default_sample[0]
