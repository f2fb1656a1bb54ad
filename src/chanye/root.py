"""The composition root: where the CLI and the web app start (settings → migrated database →
registry context → services), and where the domains' subscriptions to each other are made.

Domains do not know who listens to them: the registry publishes ``RegistryChanged``, and this
module is the one place that says policy re-matching hears it. Monitoring and chain numbers will
subscribe here the same way. The contract is written in docs/events.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from chanye.config import Settings
from chanye.policy.service import rematch_on_registry_change
from chanye.portal.accounts import seal_stored_secrets
from chanye.registry.context import RegistryContext
from chanye.registry.events import RegistryKey, registry_changed
from chanye.registry.storage import RegistryPaths
from chanye.store.database import session_scope
from chanye.store.migrate import upgrade


@dataclass(frozen=True)
class Root:
    """What a started process holds: its settings, and the services built on them."""

    settings: Settings

    def registry(self, session: Session | None = None) -> RegistryContext:
        """The registry under the system in force now (a web request passes its own session)."""
        return RegistryContext.from_settings(self.settings, session)


def subscribe(settings: Settings) -> None:
    """Every domain's subscriptions to the registry ``settings`` name, made once however often
    the root is built (subscribing a function twice is a no-op)."""
    key = RegistryKey.of(settings.resolved_database_url, RegistryPaths.under(settings.data_dir))
    registry_changed.subscribe(key, rematch_on_registry_change)


def start(settings: Settings | None = None, *, migrate: bool = True) -> Root:
    """Start a process on ``settings`` (the environment's when omitted).

    With ``migrate`` (commands): the data directory is created, the database migrated to the
    newest schema and stored secrets sealed. The web app passes ``migrate=False``: it serves the
    database as its operator migrated it (``chanye db upgrade``), and ``/health`` reports the
    schema, so starting a server never changes the database under a running one.
    """
    settings = settings or Settings()
    if migrate:
        settings.ensure_data_dir()
        upgrade(settings.resolved_database_url)
        with session_scope(settings.resolved_database_url) as session:
            seal_stored_secrets(session)
    subscribe(settings)
    return Root(settings)
