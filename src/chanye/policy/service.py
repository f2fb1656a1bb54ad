"""The policy engine over the registry in force: what the CLI and the web app call.

``PopulationCache`` keeps the loaded enterprises per (registry snapshot, date), so that a web page
or a repeated command answers warm.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from chanye.beijing import today_in_beijing
from chanye.policy.engine import Population
from chanye.policy.loader import load_policy_file
from chanye.policy.model import Policy
from chanye.registry.changes import RollbackPlan, plan_rollback
from chanye.registry.context import RegistryContext
from chanye.registry.storage import VIEW, connect, create_view
from chanye.store.audit import Actor
from chanye.store.database import session_scope

DEMO_DIR = Path(__file__).resolve().parent / "data" / "demo"


def demo_policies() -> list[Policy]:
    """The demo policies shipped with chanye (src/chanye/policy/data/demo)."""
    return [load_policy_file(path) for path in sorted(DEMO_DIR.glob("*.yaml"))]


def load_population(
    context: RegistryContext, as_of: dt.date, threads: int | None = None
) -> Population:
    snapshot, overrides = context.state()
    con = connect(context.paths, threads)
    create_view(con, context.paths, snapshot, overrides)
    return Population.load(con, VIEW, as_of)


class PopulationCache:
    """One loaded population at a time, replaced when the registry or the date changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[str | None, str, dt.date] | None = None
        self._population: Population | None = None

    @contextmanager
    def population(self, context: RegistryContext, as_of: dt.date) -> Iterator[Population]:
        snapshot, overrides = context.state()
        key = (snapshot, repr(overrides), as_of)
        with self._lock:
            if self._population is None or key != self._key:
                self._population = load_population(context, as_of)
                self._key = key
            yield self._population


def rerun_after_registry_change(context: RegistryContext, actor: Actor) -> int:
    """After an import or an undo: re-run every published policy over the registry now in force
    (new pushes, withdrawn ones, gained and lost recorded). Returns how many policies ran."""
    from chanye.policy import workflow

    with session_scope(context.database_url) as session:
        if not workflow.published_versions(session):
            return 0
        runs = workflow.rerun_published(
            session, load_population(context, today_in_beijing()), actor
        )
    return len(runs)


def rollback_consequence(context: RegistryContext, change_id: int) -> RollbackPlan:
    """What undoing a registry change would do, its undecided pushes counted (the confirmation
    states it before anything is done)."""
    from chanye.policy import workflow

    with session_scope(context.database_url) as session:
        pending = workflow.pending_push_usccs(session)
    return plan_rollback(context.database_url, context.paths, change_id, pending)


def seed_demo_policies(context: RegistryContext) -> int:
    """The demo policies, published and matched, into an empty policy table (``chanye demo``)."""
    from chanye.policy import workflow

    with session_scope(context.database_url) as session:
        population = load_population(context, today_in_beijing())
        return len(workflow.seed_demo(session, population, Actor(name="demo", role="admin")))
