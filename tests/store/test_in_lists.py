"""Bounded IN lists: a query over more ids than SQLite takes parameters still runs (a broad
policy's disbursement list reads the payments of every confirmed push)."""

from __future__ import annotations

from pathlib import Path

from chanye.policy.payments import payments_of
from chanye.store.database import IN_LIST_SIZE, in_lists, session_scope
from chanye.store.migrate import upgrade


def test_values_are_distinct_sorted_and_bounded() -> None:
    parts = in_lists([3, 1, 3, *range(10, 10 + 2 * IN_LIST_SIZE)])
    assert parts[0][:3] == [1, 3, 10]
    assert all(len(p) <= IN_LIST_SIZE for p in parts)
    assert sum(len(p) for p in parts) == 2 + 2 * IN_LIST_SIZE
    assert in_lists([]) == []


def test_payments_of_more_pushes_than_sqlite_takes_parameters(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'chanye.db'}"
    upgrade(url)
    with session_scope(url) as session:
        assert payments_of(session, list(range(300_000))) == {}
