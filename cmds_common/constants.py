"""One home for the project's constants and default paths (no work at import time)."""

from __future__ import annotations

from pathlib import Path

#: Seed used by every random step unless the user gives another.
DEFAULT_SEED: int = 20150501

#: Width of every credible and confidence interval the project reports.
INTERVAL_PROB: float = 0.95

#: Convergence thresholds for a fit to be accepted.
RHAT_MAX: float = 1.01
ESS_BULK_MIN: float = 400.0
ESS_TAIL_MIN: float = 400.0
#: Energy Bayesian fraction of missing information below this flags poor exploration.
BFMI_MIN: float = 0.3

#: Default sampler settings (per chain).
DEFAULT_CHAINS: int = 4
DEFAULT_DRAWS: int = 1000
DEFAULT_TUNE: int = 500
#: Largest draws x respondents for which the pointwise groups are stored (int8/float32: ~250 MB).
POINTWISE_LIMIT = 50_000_000
#: Most draws (all chains) kept in the pointwise groups: as many as a default fit draws. PSIS-LOO
#: and the predictive checks need no more; fits drawn longer for slowly mixing parameters (the
#: random-slopes model's 4 x 3,000) keep every k-th draw, a third of the file and of LOO's time.
POINTWISE_MAX_DRAWS = 4_000
#: Fewest retained draws (all chains) for which thinned pointwise groups are still worth storing.
MIN_POINTWISE_DRAWS = 400

#: Prior and prior-predictive draws stored with every fit (``models.prior_draws``; 0: none).
DEFAULT_PRIOR_DRAWS: int = 500
#: When only bulk or tail ESS fall short (R-hat, divergences and E-BFMI fine), a fit draws up to
#: this many further batches of ``chains`` x ``draws`` (each a fresh set of chains; see
#: ``models.batches``) until every ESS reaches its bound.
MAX_EXTRA_BATCHES: int = 3

#: Size of the default synthetic sample (the paper's analysed sample).
DEFAULT_SAMPLE_SIZE: int = 3158

RESULTS_DIR = Path("results")
DATA_DIR = RESULTS_DIR / "data"
FITS_DIR = RESULTS_DIR / "fits"
TABLES_DIR = RESULTS_DIR / "tables"
FIGURES_DIR = RESULTS_DIR / "figures"

ANALYSIS_DATA_FILE = "analysis_data.parquet"
DATA_DICTIONARY_FILE = "data_dictionary.csv"
#: The declarations of the analysis table's columns, beside it (labels for tables and figures).
DECLARATIONS_FILE = "declarations.yaml"
