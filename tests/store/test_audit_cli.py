"""``chanye audit verify`` and ``chanye audit export``, run as processes on a data directory."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select, update

from chanye.config import Settings
from chanye.store.audit import Actor, record
from chanye.store.database import session_scope
from chanye.store.migrate import upgrade
from chanye.store.models import AuditEntry
from tests.conftest import run_cli


def prepared(data_dir: Path) -> tuple[str, list[int]]:
    url = Settings(data_dir=data_dir).resolved_database_url
    upgrade(url)
    with session_scope(url) as db:
        ids = [
            record(
                db,
                Actor("editor-zhang", "analyst", "10.1.2.3"),
                "news.create",
                "news_article",
                "1",
                after={"title": "=cmd|' /C calc'!A0"},
            ).id,
            record(db, Actor("admin-li", "admin", "10.1.2.4"), "account.create", "account", "9").id,
            record(db, Actor("editor-zhang", "analyst"), "news.update", "news_article", "1").id,
        ]
    return url, ids


def test_verify_intact_then_tampered(tmp_path: Path) -> None:
    url, ids = prepared(tmp_path)
    intact = run_cli("audit", "verify", data_dir=tmp_path)
    assert intact.returncode == 0, intact.stderr
    assert "审计链完整" in intact.stdout and "3 rows" in intact.stdout

    with session_scope(url) as db:
        db.execute(update(AuditEntry).where(AuditEntry.id == ids[1]).values(actor="someone-else"))
    broken = run_cli("audit", "verify", data_dir=tmp_path)
    assert broken.returncode == 1
    assert "发现 1 条记录被篡改" in broken.stdout
    assert broken.stdout.strip().splitlines()[-1] == str(ids[1])


def test_export_csv_with_filters(tmp_path: Path) -> None:
    url, ids = prepared(tmp_path)
    target = tmp_path / "out" / "audit.csv"
    target.parent.mkdir()
    done = run_cli(
        "audit",
        "export",
        str(target),
        "--actor",
        "zhang",
        "--action",
        "news.",
        "--since",
        "2000-01-01",
        "--until",
        "2999-12-31",
        data_dir=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert "已导出 2 条" in done.stdout
    content = target.read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == [str(ids[2]), str(ids[0])]
    assert rows[2][9].startswith("{")  # the formula inside JSON text stays text
    nothing = tmp_path / "none.csv"
    assert (
        run_cli(
            "audit", "export", str(nothing), "--until", "2000-01-01", data_dir=tmp_path
        ).returncode
        == 0
    )
    assert len(nothing.read_text(encoding="utf-8-sig").splitlines()) == 1  # the header only

    with session_scope(url) as db:
        exports = db.scalars(select(AuditEntry).where(AuditEntry.action == "audit.export")).all()
        assert len(exports) == 2 and exports[0].actor == "cli"
        assert '"actor": "zhang"' in (exports[0].after or "")


def test_export_xlsx_and_wrong_usage(tmp_path: Path) -> None:
    prepared(tmp_path)
    target = tmp_path / "audit.xlsx"
    assert run_cli("audit", "export", str(target), data_dir=tmp_path).returncode == 0
    sheet = load_workbook(target).active
    assert sheet is not None
    actions = [r[5] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert actions == ["news.update", "account.create", "news.create"]

    wrong = run_cli("audit", "export", str(tmp_path / "audit.txt"), data_dir=tmp_path)
    assert wrong.returncode == 2 and ".csv" in wrong.stderr
    bad_date = run_cli("audit", "export", str(target), "--since", "06/02/2025", data_dir=tmp_path)
    assert bad_date.returncode == 2 and "2025-02-06" in bad_date.stderr
