"""The composition root: where the CLI and the web app start (settings → migrated database →
registry context → services), and where the domains' subscriptions to each other are made.

Domains do not know who listens to them: the registry publishes ``RegistryChanged``, and this
module is the one place that says policy re-matching hears it. Monitoring and chain numbers will
subscribe here the same way. The contract is written in docs/events.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import column, select, table
from sqlalchemy.orm import Session

from chanye.config import Settings
from chanye.registry.context import RegistryContext
from chanye.registry.events import RegistryChanged, RegistryKey, registry_changed
from chanye.registry.storage import RegistryPaths
from chanye.store import policy_runs
from chanye.store.database import session_scope
from chanye.store.migrate import upgrade_if_behind
from chanye.store.sealing import is_sealed


@dataclass(frozen=True)
class Root:
    """What a started process holds: its settings, and the services built on them."""

    settings: Settings

    def registry(self, session: Session | None = None) -> RegistryContext:
        """The registry under the system in force now (a web request passes its own session)."""
        return RegistryContext.from_settings(self.settings, session)


def rematch_policies(event: RegistryChanged) -> None:
    """Policy re-matching, imported when a change is published: a command that changes nothing
    (``chanye policy match``) does not load the 免申即享 workflow to subscribe it."""
    if not policy_runs.any_published(event.database_url):
        return  # nothing to re-match: the workflow is not even loaded
    from chanye.policy.service import rematch_on_registry_change

    rematch_on_registry_change(event)


def subscribe(settings: Settings) -> None:
    """Every domain's subscriptions to the registry ``settings`` name, made once however often
    the root is built (subscribing a function twice is a no-op)."""
    key = RegistryKey.of(settings.resolved_database_url, RegistryPaths.under(settings.data_dir))
    registry_changed.subscribe(key, rematch_policies)


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
        upgrade_if_behind(settings.resolved_database_url)
        _seal_stored_secrets(settings.resolved_database_url)
    subscribe(settings)
    return Root(settings)


def _seal_stored_secrets(url: str) -> None:
    """Stored secrets written in clear (before sealing existed) are sealed. Looking costs one
    query; the portal, which seals them, is imported only when there is one to seal."""
    secrets = table("accounts", column("totp_secret"))
    with session_scope(url) as session:
        stored = session.scalars(
            select(secrets.c.totp_secret).where(secrets.c.totp_secret.is_not(None))
        )
        if all(is_sealed(secret) for secret in stored):
            return
        from chanye.portal.accounts import seal_stored_secrets

        seal_stored_secrets(session)
