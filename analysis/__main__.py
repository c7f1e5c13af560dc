"""Entry point of ``python -m analysis [COMMAND] ...`` (see :mod:`analysis.cli`)."""

from analysis.cli import main

raise SystemExit(main())
