"""``python -m modalax``."""

from modalax.cli import main

raise SystemExit(main())
