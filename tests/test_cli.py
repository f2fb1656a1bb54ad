"""The ``chanye`` command, run as a process the way people run it."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import column, select, table

from chanye.store.audit import verify_chain
from chanye.store.database import engine_for, session_scope
from chanye.store.migrate import current_revision, downgrade, head_revision
from chanye.store.models import AuditEntry, SystemVersion
from chanye.store.sealing import is_sealed
from chanye.system.loader import default_system_text
from tests.conftest import DEMO_ENTERPRISES, run_cli
from tests.portal.test_demo import assert_logins_work


def test_system_show_json_has_the_documented_shape(tmp_path: Path) -> None:
    result = run_cli("system", "show", "--json", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {
        "requirement",
        "directions",
        "clusters",
        "future_industries",
        "service_industries",
    } <= set(data)
    assert len(data["clusters"]) == 15
    icv = data["clusters"][0]
    assert {"id", "name", "tier", "target", "chain"} <= set(icv)
    assert icv["id"] == "icv-nev" and icv["target"]["level"] == "万亿级"
    assert set(icv["chain"]) == {"upstream", "midstream", "downstream"}


def test_system_show_prints_a_tree_in_chinese(tmp_path: Path) -> None:
    result = run_cli("system", "show", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    for text in ("产业第一、制造业立市", "新兴支柱产业", "智能网联与新能源汽车", "万亿级", "8.4%"):
        assert text in result.stdout


def test_system_check_accepts_good_and_rejects_bad_files(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(default_system_text(), encoding="utf-8")
    ok = run_cli("system", "check", str(good), data_dir=tmp_path)
    assert ok.returncode == 0 and "OK" in ok.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text(
        default_system_text().replace('codes = ["3841"', 'codes = ["3X41"', 1), encoding="utf-8"
    )
    failed = run_cli("system", "check", str(good), str(bad), data_dir=tmp_path)
    assert failed.returncode == 1
    assert f"{bad}: clusters[icv-nev].links[icv-nev-battery].codes[0]" in failed.stderr
    assert "'3X41' is not a GB/T 4754-2017 industry code" in failed.stderr


def test_db_upgrade_is_safe_to_repeat(tmp_path: Path) -> None:
    for _ in range(2):
        result = run_cli("db", "upgrade", data_dir=tmp_path)
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "chanye.db").exists()


def test_a_command_migrates_a_database_left_on_an_older_schema(tmp_path: Path) -> None:
    """The start-up skips Alembic only when the schema is at head: one migration behind, the
    next command (here one that only reads) brings it up."""
    assert run_cli("db", "upgrade", data_dir=tmp_path).returncode == 0
    url = f"sqlite:///{tmp_path / 'chanye.db'}"
    downgrade(url, "-1")
    assert current_revision(url) != head_revision(url)
    result = run_cli("audit", "verify", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert current_revision(url) == head_revision(url)


def test_a_command_seals_a_secret_left_in_clear(tmp_path: Path) -> None:
    """The start-up looks for clear secrets with one query; one found, it is sealed."""
    created = run_cli(
        "account",
        "create",
        "li",
        "--role",
        "analyst",
        "--email",
        "li@example.cn",
        data_dir=tmp_path,
    )
    assert created.returncode == 0, created.stderr
    accounts = table("accounts", column("totp_secret"))
    with engine_for(f"sqlite:///{tmp_path / 'chanye.db'}").begin() as connection:
        connection.execute(accounts.update().values(totp_secret="JBSWY3DPEHPK3PXP"))
    assert run_cli("audit", "verify", data_dir=tmp_path).returncode == 0
    with engine_for(f"sqlite:///{tmp_path / 'chanye.db'}").connect() as connection:
        stored = connection.execute(select(accounts.c.totp_secret)).scalar_one()
    assert is_sealed(stored)


def test_system_load_records_a_version_and_an_audit_row(tmp_path: Path) -> None:
    custom = tmp_path / "edited.toml"
    custom.write_text(
        default_system_text().replace(
            "智能网联与新能源汽车产业工作专班", "智能汽车专班（已调整）工作专班"
        ),
        encoding="utf-8",
    )
    assert run_cli("system", "load", data_dir=tmp_path).returncode == 0
    again = run_cli("system", "load", data_dir=tmp_path)
    assert "already in force" in again.stdout
    assert run_cli("system", "load", str(custom), data_dir=tmp_path).returncode == 0
    shown = json.loads(run_cli("system", "show", "--json", data_dir=tmp_path).stdout)
    assert shown["clusters"][0]["accountability"]["task_force"] == "智能汽车专班（已调整）工作专班"
    url = f"sqlite:///{tmp_path / 'chanye.db'}"
    with session_scope(url) as session:
        assert len(session.scalars(select(SystemVersion)).all()) == 2
        actions = session.scalars(select(AuditEntry.action)).all()
        assert actions == ["system.load", "system.load"]
        assert verify_chain(session) == []


def test_loading_a_bad_file_changes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        default_system_text().replace('tier = "pillar"', 'tier = "gold"', 1), encoding="utf-8"
    )
    result = run_cli("system", "load", str(bad), data_dir=tmp_path)
    assert result.returncode == 1
    assert "unknown tier 'gold'" in result.stderr
    with session_scope(f"sqlite:///{tmp_path / 'chanye.db'}") as session:
        assert session.scalars(select(SystemVersion)).all() == []
        assert session.scalars(select(AuditEntry)).all() == []


def test_demo_prepares_everything_and_says_how_to_log_in(tmp_path: Path) -> None:
    result = run_cli("demo", "--no-serve", data_dir=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "http://127.0.0.1:8000" in result.stdout
    assert "登录" in result.stdout
    for content in ("企业名录", "年度数据", "月度快报", "资质认定"):  # the city and its past
        assert f"已载入{content}" in result.stdout, content
    assert_logins_work(result.stdout, tmp_path)  # one account per role, each logs in
    stats = json.loads(run_cli("registry", "stats", "--json", data_dir=tmp_path).stdout)
    assert stats["total"] == DEMO_ENTERPRISES  # the synthetic demo city
    assert stats["by_cluster"]["icv-nev"]["enterprises"] > 0
    again = run_cli("demo", "--no-serve", data_dir=tmp_path)  # a second run keeps the registry
    assert again.returncode == 0 and "generating the demo city" not in again.stdout


def test_every_command_has_help(tmp_path: Path) -> None:
    for command in (
        ["system", "show"],
        ["system", "check"],
        ["system", "load"],
        ["db", "upgrade"],
        ["serve"],
        ["demo"],
    ):
        result = run_cli(*command, "--help", data_dir=tmp_path)
        assert result.returncode == 0 and "Usage" in result.stdout, command


def test_a_mistyped_group_is_suggested(tmp_path: Path) -> None:
    """Groups are built when run; a typo still gets the suggestion among all of them."""
    result = run_cli("polcy", data_dir=tmp_path)
    assert result.returncode == 2
    assert "Did you mean 'policy'?" in result.stderr
