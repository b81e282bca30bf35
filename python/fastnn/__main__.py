"""``python -m fastnn``: the command-line entry point (see fastnn.cli)."""

from .cli import main

raise SystemExit(main())
