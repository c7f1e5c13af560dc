"""Entry point of ``python -m analysis``."""

from analysis.summarize_cli import main

raise SystemExit(main())
