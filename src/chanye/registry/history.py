"""The registry's history as people read it: the latest changes (imports, undos, reclassifying)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from chanye.store.models import RegistryChange

KIND_LABELS = {"import": "导入", "classify": "重新归类", "rollback": "撤销", "redo": "重做"}


def recent_changes(session: Session, limit: int | None = 5) -> list[RegistryChange]:
    """The newest changes first (``limit`` None: every change, for the imports page)."""
    query = select(RegistryChange).order_by(RegistryChange.id.desc()).limit(limit)
    return list(session.scalars(query))
