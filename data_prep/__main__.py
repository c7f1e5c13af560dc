"""Entry point of ``python -m data_prep``."""

from data_prep.build_cli import main

raise SystemExit(main())
