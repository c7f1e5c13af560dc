from __future__ import annotations

import pandas as pd
import pytest

from data_prep.analysis_dataset import to_analysis_table
from data_prep.synthetic import generate_synthetic


@pytest.fixture(scope="session")
def default_sample() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The embedded default data (typed) and its true province effects."""
    raw, truth = generate_synthetic()
    return to_analysis_table(raw), truth


@pytest.fixture(scope="session")
def default_table(default_sample) -> pd.DataFrame:
    return default_sample[0]
