"""The ``chanye`` command (see docs/cli.md): one Typer app per area, one start-up for them all.

``app.py`` assembles the command; ``startup.py`` is what every command does before its work
(settings, a migrated database, the consoles, the actor it records as). The other modules are
thin adapters over the domain packages, one per command group.
"""

from __future__ import annotations

from chanye.cli.app import app, main

__all__ = ["app", "main"]
