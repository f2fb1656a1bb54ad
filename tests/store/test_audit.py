"""Audit rows chain by hash: the chain verifies, and editing or deleting a row is detected."""

from __future__ import annotations

from sqlalchemy import delete, update

from chanye.store.audit import Actor, record, verify_chain
from chanye.store.database import session_scope
from chanye.store.migrate import upgrade
from chanye.store.models import AuditEntry

ANALYST = Actor(name="analyst-1", role="analyst", client_addr="127.0.0.1")


def _three_rows(url: str) -> None:
    upgrade(url)
    with session_scope(url) as session:
        for i in range(3):
            record(
                session,
                ANALYST,
                "cluster.edit",
                "cluster",
                "icv-nev",
                before={"target": i},
                after={"target": i + 1},
            )


def test_chain_verifies(database_url: str) -> None:
    _three_rows(database_url)
    with session_scope(database_url) as session:
        assert verify_chain(session) == []
        rows = session.query(AuditEntry).order_by(AuditEntry.id).all()
    assert [r.actor for r in rows] == ["analyst-1"] * 3
    assert rows[1].prev_hash == rows[0].row_hash
    assert '"target": 1' in (rows[0].after or "")


def test_tampered_row_is_detected(database_url: str) -> None:
    _three_rows(database_url)
    with session_scope(database_url) as session:
        second = session.query(AuditEntry).order_by(AuditEntry.id).all()[1]
        session.execute(
            update(AuditEntry).where(AuditEntry.id == second.id).values(after='{"target": 999}')
        )
    with session_scope(database_url) as session:
        assert verify_chain(session) == [second.id]


def test_deleted_row_is_detected(database_url: str) -> None:
    _three_rows(database_url)
    with session_scope(database_url) as session:
        rows = session.query(AuditEntry).order_by(AuditEntry.id).all()
        session.execute(delete(AuditEntry).where(AuditEntry.id == rows[1].id))
    with session_scope(database_url) as session:
        assert verify_chain(session) == [rows[2].id]


def test_failed_transaction_writes_no_audit_row(database_url: str) -> None:
    upgrade(database_url)
    try:
        with session_scope(database_url) as session:
            record(session, ANALYST, "cluster.edit", "cluster", "ai")
            raise RuntimeError("the change itself failed")
    except RuntimeError:
        pass
    with session_scope(database_url) as session:
        assert session.query(AuditEntry).count() == 0


def test_a_session_that_commits_or_rolls_back_links_its_next_rows_to_the_chain(
    database_url: str,
) -> None:
    """Within a transaction each row links to the one before it without reading the table again;
    after a commit, a rollback, or another session's rows, the chain's end is read afresh."""
    _three_rows(database_url)
    with session_scope(database_url) as session:
        record(session, ANALYST, "a", "t", "1")
        session.commit()
        with session_scope(database_url) as other:
            record(other, ANALYST, "b", "t", "2")
        record(session, ANALYST, "c", "t", "3")  # after the other session's row
        session.rollback()  # "c" is gone: the next row must not link to it
        record(session, ANALYST, "d", "t", "4")
        record(session, ANALYST, "e", "t", "5")
    with session_scope(database_url) as session:
        assert verify_chain(session) == []
        actions = [r.action for r in session.query(AuditEntry).order_by(AuditEntry.id)]
    assert actions[3:] == ["a", "b", "d", "e"]
