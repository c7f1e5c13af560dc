"""Entry point of ``python -m models``."""

import os
import sys

# ArviZ is imported here, at the shallowest point of the stack, before nutpie imports it deep
# inside the sampler's import chain: arviz_base's lazy loader walks the whole calling stack with
# ``inspect.stack()`` when an optional backend (numpyro) is missing, which costs about 0.5 s
# there and 0.1 s here.
import arviz  # noqa: F401

from models.fit_cli import main

status = main()
# Every file of the run is written (atomically) and closed, and no thread or process is left
# running. A normal exit would now tear down the ~1,900 imported modules (ArviZ 1.x brings
# arviz-plots and matplotlib, xarray's writer dask.distributed), about 1 s of a 9 s Model 2
# fit that changes nothing on disk. So the output is flushed and the process ends at once.
sys.stdout.flush()
sys.stderr.flush()
os._exit(status)
