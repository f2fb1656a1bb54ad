"""Pushes follow every kind of registry change: an analyst's override, a re-classification, an
import and an undo all re-match the published policies (a policy reading ``clusters`` here)."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

import tomli_w
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from chanye.beijing import today_in_beijing
from chanye.config import Settings
from chanye.policy import workflow
from chanye.policy.service import load_population
from chanye.registry.context import RegistryContext
from chanye.root import start
from chanye.store.audit import Actor
from chanye.store.database import session_scope
from chanye.store.models import PolicyPush, PolicyRun
from chanye.system.loader import default_system_text
from tests.conftest import run_cli
from tests.registry.factory import row, uscc, write_csv
from tests.web.signin import sign_in_as
from tests.web.test_registry_pages import _import as web_import

OFFICE = Actor("policy-1", "policy_office")
POLICY = """\
id: test-fashion-support
title: 测试时尚消费品产业扶持
issuer: 广州市工业和信息化局
document: 测试〔2026〕2号
valid: {from: 2025-01-01, to: 2035-12-31}
conditions:
  - id: fashion
    text: 属于时尚消费品产业集群（第二条）
    when: '"fashion-consumer" in enterprise.clusters'
"""
SHOP = {"行业代码": "5211", "经营范围": "日用百货零售", "企业名称": "广州市某某百货店"}
TAILOR = {"行业代码": "1819", "经营范围": "服装服饰的设计与销售", "企业名称": "广州市某某服饰公司"}


def publish(settings: Settings) -> None:
    """The policy office publishes the policy (there is no command for it: the web page does)."""
    context = RegistryContext.from_settings(settings)
    population = load_population(context, today_in_beijing())
    with session_scope(settings.resolved_database_url) as db:
        draft = workflow.add_draft(db, POLICY, "fashion.yaml", OFFICE)
        workflow.publish(db, draft, OFFICE, population)


def pushes(settings: Settings) -> dict[str, str]:
    with session_scope(settings.resolved_database_url) as db:
        return {p.uscc: p.status for p in db.scalars(select(PolicyPush))}


def runs(settings: Settings) -> int:
    with session_scope(settings.resolved_database_url) as db:
        return db.scalar(select(func.count()).select_from(PolicyRun)) or 0


def cli(data_dir: Path, *args: str) -> str:
    return cli_run(data_dir, *args).stdout


def cli_run(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = run_cli(*args, data_dir=data_dir)
    assert done.returncode == 0, done.stderr
    return done


REMATCHED = "已按新的企业库重新匹配 1 项已发布政策"


def test_override_and_reclassification_update_the_pushes(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    settings = Settings(data_dir=data_dir)
    cli(
        data_dir, "registry", "import", str(write_csv(tmp_path / "a.csv", [row(1), row(5, **SHOP)]))
    )
    publish(settings)
    assert pushes(settings) == {}  # no enterprise of the cluster yet

    # An analyst places the shop in the cluster by hand: it is pushed the policy.
    cli(
        data_dir,
        "registry",
        "override",
        uscc(5),
        "--industry",
        "fashion-consumer",
        "--reason",
        "门店",
    )
    assert pushes(settings) == {uscc(5): workflow.PUSHED}
    cli(data_dir, "registry", "override", uscc(5), "--clear")
    assert pushes(settings) == {uscc(5): workflow.WITHDRAWN}

    # The system file now places shops in the cluster: after re-classification, pushed again.
    raw = tomllib.loads(default_system_text())
    fashion = next(c for c in raw["clusters"] if c["id"] == "fashion-consumer")
    fashion["keywords"] = [*fashion["keywords"], "日用百货零售"]
    edited = tmp_path / "edited.toml"
    edited.write_text(tomli_w.dumps(raw), encoding="utf-8")
    cli(data_dir, "system", "load", str(edited))
    before = runs(settings)
    assert REMATCHED in cli_run(data_dir, "registry", "classify").stderr
    assert pushes(settings) == {uscc(5): workflow.PUSHED}
    assert runs(settings) == before + 1  # one re-match for one change

    # An import and its undo still re-match.
    added = cli_run(
        data_dir, "registry", "import", str(write_csv(tmp_path / "b.csv", [row(7, **TAILOR)]))
    )
    assert REMATCHED in added.stderr
    assert pushes(settings)[uscc(7)] == workflow.PUSHED
    imports = cli(data_dir, "registry", "imports", "--json")
    last = max(int(n) for n in re.findall(r'"id": (\d+)', imports))
    assert REMATCHED in cli_run(data_dir, "registry", "rollback", str(last), "--yes").stderr
    assert pushes(settings) == {uscc(5): workflow.PUSHED, uscc(7): workflow.WITHDRAWN}


def test_a_web_import_and_undo_update_the_pushes(client: TestClient, tmp_path: Path) -> None:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    start(settings, migrate=False)  # the root built again (another worker): still one re-match
    sign_in_as(client, "analyst")
    web_import(client, tmp_path, [row(5, **SHOP)])
    publish(settings)
    before = runs(settings)
    web_import(client, tmp_path, [row(5, **SHOP), row(7, **TAILOR)])  # in a process of its own
    assert pushes(settings) == {uscc(7): workflow.PUSHED}
    assert runs(settings) == before + 1

    asked = client.post("/registry/changes/2/rollback").text
    assert "撤回 1 条待确认推送" in asked
    in_force = re.search(r'name="in_force" value="(\d+)"', asked)
    assert in_force is not None
    undo = client.post(
        "/registry/changes/2/rollback",
        data={"confirmed": "yes", "in_force": in_force.group(1)},
        follow_redirects=False,
    )
    assert undo.status_code == 303
    assert pushes(settings) == {uscc(7): workflow.WITHDRAWN}
    assert runs(settings) == before + 2
