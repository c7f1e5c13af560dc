"""Entry point of ``python -m models``."""

# ArviZ is imported here, at the shallowest point of the stack, before nutpie imports it deep
# inside the sampler's import chain: arviz_base's lazy loader walks the whole calling stack with
# ``inspect.stack()`` when an optional backend (numpyro) is missing, which costs about 0.5 s
# there and 0.1 s here.
import arviz  # noqa: F401

from cmds_common.process_exit import exit_without_teardown
from models.fit_cli import main

# Every file of the run is written and closed, and no thread is left running, when main returns.
exit_without_teardown(main())
