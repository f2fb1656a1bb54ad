"""An import killed half-way leaves the registry exactly as it was, and the next import works."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

from sqlalchemy import select

from chanye.store.database import session_scope
from chanye.store.models import RegistryChange
from tests.conftest import CHANYE_BIN, cli_env, run_cli
from tests.registry.factory import row, write_csv

BIG = 150_000


def _status(data: Path) -> list[str]:
    with session_scope(f"sqlite:///{data / 'chanye.db'}") as session:
        return [
            c.status for c in session.scalars(select(RegistryChange).order_by(RegistryChange.id))
        ]


def test_killed_import_changes_nothing(tmp_path: Path) -> None:
    data = tmp_path / "d"
    small = write_csv(tmp_path / "small.csv", [row(n) for n in range(1, 4)])
    assert run_cli("registry", "import", str(small), data_dir=data).returncode == 0
    before = run_cli("registry", "export", str(tmp_path / "before.csv"), data_dir=data)
    assert before.returncode == 0
    big = write_csv(
        tmp_path / "big.csv", [row(n, **{"营业收入（万元）": str(n)}) for n in range(1, BIG)]
    )

    process = subprocess.Popen(
        [CHANYE_BIN, "registry", "import", str(big)],
        env=cli_env(data),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while _status(data)[-1:] != ["running"]:
        assert time.monotonic() < deadline and process.poll() is None, (
            "import ended before it could be killed"
        )
        time.sleep(0.05)
    time.sleep(0.5)  # well inside the import: reading and checking 150,000 rows takes longer
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    after = run_cli("registry", "export", str(tmp_path / "after.csv"), data_dir=data)
    assert after.returncode == 0
    assert (tmp_path / "after.csv").read_bytes() == (tmp_path / "before.csv").read_bytes()

    # The lock died with the process: the next import runs and marks the killed one interrupted.
    again = run_cli("registry", "import", str(small), data_dir=data)
    assert again.returncode == 0, again.stderr
    history = json.loads(run_cli("registry", "imports", "--json", data_dir=data).stdout)
    assert [h["status"] for h in history] == ["done", "failed", "done"]
    assert "interrupted" in history[1]["message"]
