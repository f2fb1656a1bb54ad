"""What the policy tests share."""

from __future__ import annotations

from pathlib import Path

import pytest

from chanye.registry.context import RegistryContext
from chanye.registry.storage import RegistryPaths
from chanye.store.migrate import upgrade
from chanye.system.loader import load_default_system


@pytest.fixture
def context(tmp_path: Path, database_url: str) -> RegistryContext:
    """A registry on SQLite and, when configured, on PostgreSQL."""
    upgrade(database_url)
    return RegistryContext(
        database_url, RegistryPaths.under(tmp_path / "data"), load_default_system()
    )
