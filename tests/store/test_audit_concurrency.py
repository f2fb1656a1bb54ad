"""Concurrent writers never fork the audit chain: each row links to the one committed before it.

A fork (two rows sharing a previous hash) makes ``chanye audit verify`` report tampering that never
happened, which would let anyone drown real tampering in false alarms.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from chanye.store.audit import Actor, record, verify_chain
from chanye.store.database import session_scope
from chanye.store.migrate import upgrade
from chanye.store.models import AuditEntry

WRITERS = 12
ROWS_EACH = 4

# Each process waits for the "go" file, so that all of them write at the same moment.
_PROCESS_WRITER = """
import sys, time
from pathlib import Path
from chanye.store.audit import Actor, record
from chanye.store.database import session_scope
url, go, name = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
while not go.exists():
    time.sleep(0.01)
for _ in range({rows}):
    with session_scope(url) as session:
        record(session, Actor(name=name, role="anonymous"), "access.denied", "route", "/registry")
"""


def _assert_chain_whole(url: str, expected_rows: int) -> None:
    with session_scope(url) as session:
        assert session.query(AuditEntry).count() == expected_rows
        assert verify_chain(session) == []
        prev_hashes = [entry.prev_hash for entry in session.query(AuditEntry)]
    assert len(set(prev_hashes)) == len(prev_hashes), "two rows chain onto the same row"


def test_threads_with_their_own_sessions_keep_one_chain(database_url: str) -> None:
    upgrade(database_url)
    start = threading.Barrier(WRITERS)

    def write(name: str) -> None:
        start.wait()
        for _ in range(ROWS_EACH):
            with session_scope(database_url) as session:
                record(session, Actor(name=name, role="anonymous"), "access.denied", "route", "/")

    threads = [threading.Thread(target=write, args=(f"user-{i}",)) for i in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    _assert_chain_whole(database_url, WRITERS * ROWS_EACH)


def test_processes_keep_one_chain(database_url: str, tmp_path: Path) -> None:
    upgrade(database_url)
    go = tmp_path / "go"
    script = _PROCESS_WRITER.format(rows=ROWS_EACH)
    processes = [
        subprocess.Popen([sys.executable, "-c", script, database_url, str(go), f"process-{i}"])
        for i in range(10)
    ]
    go.touch()
    assert [process.wait(timeout=120) for process in processes] == [0] * 10
    _assert_chain_whole(database_url, 10 * ROWS_EACH)
