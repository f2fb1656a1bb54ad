"""What the registry's commands ask of the policy tables, without loading the policy engine:
whether any policy is in force, and how many runs a change made. A change of the registry
re-matches the published policies (``chanye.root``); where none is published, nothing of the
免申即享 workflow needs to be imported (half a second of every import and undo)."""

from __future__ import annotations

from sqlalchemy import func, select

from chanye.store.database import session_scope
from chanye.store.models import PolicyRun, PolicyVersion

PUBLISHED = "published"  # a version in force (``chanye.policy.workflow`` names every status)


def any_published(database_url: str) -> bool:
    with session_scope(database_url) as session:
        found = session.scalar(
            select(PolicyVersion.id).where(PolicyVersion.status == PUBLISHED).limit(1)
        )
    return found is not None


def last_run_id(database_url: str) -> int:
    """The newest policy run's id (0: none yet): runs after it were made by what came next."""
    with session_scope(database_url) as session:
        return int(session.scalar(select(func.max(PolicyRun.id))) or 0)


def runs_after(database_url: str, run_id: int) -> int:
    """How many policy runs were made after run ``run_id`` (a change's re-matching)."""
    with session_scope(database_url) as session:
        return int(session.scalar(select(func.count()).where(PolicyRun.id > run_id)) or 0)
