"""Entry point of ``python -m models``."""

from models.fit_cli import main

raise SystemExit(main())
