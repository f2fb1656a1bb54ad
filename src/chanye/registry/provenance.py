"""Where figures come from, in words people understand: "企业库 2026年11月30日 导入的数据"
rather than a change number."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from chanye.beijing import BEIJING, aware
from chanye.store.models import RegistryChange

KIND_WORDS = {
    "import": "导入的数据",
    "classify": "重新归类后的数据",
    "rollback": "撤销导入后的数据",
}


def change_words(change: RegistryChange) -> str:
    day = aware(change.started_at).astimezone(BEIJING)
    return f"企业库 {day.year}年{day.month}月{day.day}日 {KIND_WORDS.get(change.kind, '的数据')}"


def describe_changes(session: Session, change_ids: Iterable[int | None]) -> dict[int, str]:
    """Each registry change by its day and kind, for the ids given (None ids are skipped)."""
    wanted = {i for i in change_ids if i is not None}
    if not wanted:
        return {}
    changes = session.scalars(select(RegistryChange).where(RegistryChange.id.in_(wanted)))
    return {change.id: change_words(change) for change in changes}
