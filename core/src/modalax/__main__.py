"""``python -m modalax``."""

from modalax._src.cli import main

raise SystemExit(main())
