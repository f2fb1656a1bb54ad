"""Files and scratch are cleaned: what killed imports leave, refused uploads, and uploads past
their retention (the CLI as a process, the web page through the app)."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from fastapi.testclient import TestClient

from chanye.config import Settings
from tests.conftest import CHANYE_BIN, cli_env, run_cli
from tests.registry.factory import row, write_csv
from tests.web.signin import sign_in_as
from tests.web.test_registry_pages import _import


def _leave_what_a_killed_import_leaves(data_dir: Path) -> list[Path]:
    registry = data_dir / "registry"
    leftovers = [registry / "tmp" / "import-k1ll3d", registry / "snapshots" / "registry-000007.tmp"]
    for leftover in leftovers:
        leftover.mkdir(parents=True)
        (leftover / "part-0000.parquet").write_bytes(b"\0" * 4096)
    return leftovers


def test_a_change_clears_what_killed_imports_left(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    assert run_cli("registry", "imports", data_dir=data_dir).returncode == 0
    leftovers = _leave_what_a_killed_import_leaves(data_dir)
    path = write_csv(tmp_path / "ok.csv", [row(1)])
    assert run_cli("registry", "import", str(path), data_dir=data_dir).returncode == 0
    assert [p for p in leftovers if p.exists()] == []
    assert list((data_dir / "registry" / "tmp").iterdir()) == []


def test_a_registry_command_clears_them_on_start(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    assert run_cli("registry", "imports", data_dir=data_dir).returncode == 0
    leftovers = _leave_what_a_killed_import_leaves(data_dir)
    assert run_cli("registry", "imports", data_dir=data_dir).returncode == 0
    assert [p for p in leftovers if p.exists()] == []


def _upload_folder(data_dir: Path, name: str, age_days: float) -> Path:
    folder = Settings(data_dir=data_dir).registry_uploads_dir / name
    folder.mkdir(parents=True)
    (folder / "名录.csv").write_text("x", encoding="utf-8")
    then = time.time() - age_days * 86400
    os.utime(folder, (then, then))
    return folder


def test_uploads_past_their_retention_are_deleted(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    old = _upload_folder(data_dir, "old", 40)
    recent = _upload_folder(data_dir, "recent", 10)
    kept_longer = subprocess.run(
        [CHANYE_BIN, "registry", "imports"],
        capture_output=True,
        env=cli_env(data_dir, CHANYE_UPLOAD_RETENTION_DAYS="60"),
        check=False,
    )
    assert kept_longer.returncode == 0 and old.exists()
    assert run_cli("registry", "imports", data_dir=data_dir).returncode == 0  # 30 days
    assert not old.exists() and recent.exists()


def test_a_refused_upload_is_not_kept(client: TestClient, tmp_path: Path) -> None:
    sign_in_as(client, "analyst")
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    refused = _import(client, tmp_path, [])  # a header only: fine, nothing to import
    assert 'data-done="true"' in refused
    bad = tmp_path / "upload.csv"
    bad.write_text("甲,乙\n1,2\n", encoding="utf-8")
    with bad.open("rb") as handle:
        response = client.post(
            "/registry/imports",
            files={"file": ("坏.csv", handle, "text/csv")},
            follow_redirects=False,
        )
    job = response.headers["location"]
    for _ in range(200):
        if 'data-done="true"' in (progress := client.get(f"{job}/progress").text):
            break
        time.sleep(0.05)
    assert "找不到表头" in progress
    kept = [p.name for p in settings.registry_uploads_dir.rglob("*") if p.is_file()]
    assert kept == ["名录.csv"]  # the accepted one only


def test_old_half_written_column_files_and_earlier_search_columns_go(tmp_path: Path) -> None:
    data_dir = tmp_path / "d"
    assert (
        run_cli(
            "registry", "import", str(write_csv(tmp_path / "ok.csv", [row(1)])), data_dir=data_dir
        ).returncode
        == 0
    )
    registry = data_dir / "registry"
    snapshot = next((registry / "snapshots").glob("registry-*"))
    abandoned, writing = snapshot / ".columns.arrow.41.7.tmp", snapshot / ".columns.arrow.42.7.tmp"
    for partial in (abandoned, writing):
        partial.write_bytes(b"\0" * 4096)
    hours_ago = time.time() - 2 * 3600
    os.utime(abandoned, (hours_ago, hours_ago))
    earlier = registry / "columns" / "search-0123abcd.arrow"  # what earlier versions kept
    earlier.parent.mkdir()
    earlier.write_bytes(b"\0" * 4096)
    assert run_cli("registry", "imports", data_dir=data_dir).returncode == 0
    assert not abandoned.exists() and not earlier.parent.exists()
    assert writing.exists()  # another reader may be writing it right now
    assert (snapshot / "columns.arrow").exists()
