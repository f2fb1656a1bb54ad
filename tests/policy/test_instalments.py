"""分期拨付: a benefit paid over two years (首年60%，次年40%), the second instalment only if the
enterprise's revenue did not fall (a look-back read as of its due date), each instalment its own
payment in the ledger."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from chanye.beijing import today_in_beijing, years_later
from chanye.policy import instalment_plans, payments, workflow
from chanye.policy.instalments import check_due
from chanye.policy.population import Population, load_population
from chanye.registry.context import RegistryContext
from chanye.registry.importer import import_file
from chanye.store.audit import Actor
from chanye.store.database import session_scope
from chanye.store.models import PolicyInstalment, PolicyPayment, PolicyPush, PolicyVersion
from tests.conftest import CHANYE_BIN, cli_env, run_cli
from tests.policy.files import refusal
from tests.policy.test_workflow import (
    OFFICE,
    POLICY,
    REVIEWER,
    SYSTEM,
    enterprise,
    load,
    registry_rows,
)
from tests.registry.factory import uscc

SCHEDULE = """\
  schedule:
    - share: 60%
      text: 首年拨付60%
    - share: 0.4
      after_years: 1
      text: 次年拨付40%，须营业收入不低于上年
      when: enterprise.revenue >= prior(enterprise.revenue)
"""
SCHEDULED = POLICY + SCHEDULE
TODAY = today_in_beijing()
# Enterprise 1's revenue grew last year; enterprise 2's fell (万元).
REVENUE = {1: (12000, 15000), 2: (12000, 9000)}


def _city(context: RegistryContext, tmp_path: Path) -> None:
    """Enterprises 1 and 2 qualify (研发费用 300万 and 500万: 30万 and 50万), with their revenue of
    the two years before this one."""
    load(context, tmp_path, registry_rows())
    years = (TODAY.year - 2, TODAY.year - 1)
    annual = tmp_path / "annual.csv"
    annual.write_text(
        "统一社会信用代码,"
        + ",".join(f"{y}年营业收入（万元）" for y in years)
        + "\n"
        + "".join(f"{uscc(n)},{a},{b}\n" for n, (a, b) in REVENUE.items()),
        encoding="utf-8",
    )
    result = import_file(context.database_url, context.paths, context.system, annual, SYSTEM)
    assert result.exit_code == 0


def _release(db: Session, population: Population, text: str, name: str) -> PolicyVersion:
    """The policy drafted, approved by a second person and published (its matching run)."""
    version = workflow.add_draft(db, text, name, OFFICE)
    workflow.approve(db, version, REVIEWER)
    workflow.publish(db, version, REVIEWER, population)
    return version


def _push_of(db: Session, version: PolicyVersion, n: int) -> PolicyPush:
    return db.scalars(
        select(PolicyPush).where(
            PolicyPush.uscc == uscc(n), PolicyPush.policy_version_id == version.id
        )
    ).one()


def _publish(context: RegistryContext, text: str, name: str) -> dict[int, int]:
    """The policy published, enterprises 1 and 2 confirming: their push ids."""
    population = load_population(context, TODAY)
    with session_scope(context.database_url) as db:
        version = _release(db, population, text, name)
        ids: dict[int, int] = {}
        for n in (1, 2):
            push = _push_of(db, version, n)
            workflow.confirm(db, push, enterprise(db, n), Actor(f"e{n}", "enterprise"))
            ids[n] = push.id
    return ids


def _a_year_passes(url: str) -> None:
    """As if the pushes had been confirmed a year ago: every instalment falls due a year
    earlier (the second today)."""
    with session_scope(url) as db:
        for row in db.scalars(select(PolicyInstalment)):
            row.due_on = years_later(row.due_on, -1)


def _pay(url: str, push_id: int, number: int | None = None) -> PolicyPayment:
    with session_scope(url) as db:
        push = db.get_one(PolicyPush, push_id)
        payment = payments.record_payment(db, push, TODAY, f"拨-{number}", OFFICE, number)
        db.expunge(payment)
        return payment


def test_two_instalments_the_second_only_if_revenue_held(
    context: RegistryContext, tmp_path: Path
) -> None:
    url = context.database_url
    _city(context, tmp_path)
    ids = _publish(context, SCHEDULED, "scheduled.yaml")
    with session_scope(url) as db:
        planned = instalment_plans.instalments_of(db, list(ids.values()))
        first = [(i.number, i.amount, i.due_on, i.state) for i in planned[ids[1]]]
    assert first == [
        (1, 180000.0, TODAY, instalment_plans.PAYABLE),
        (2, 120000.0, years_later(TODAY, 1), instalment_plans.PENDING),
    ]

    paid = _pay(url, ids[1])  # the first payable instalment: 60%
    assert (paid.amount, paid.instalment) == (180000.0, 1)
    with pytest.raises(workflow.WorkflowRefusedError, match="第 1 期已登记拨付"):
        _pay(url, ids[1], 1)
    with pytest.raises(workflow.WorkflowRefusedError, match="第 2 期应于"):
        _pay(url, ids[1], 2)

    _a_year_passes(url)
    with session_scope(url) as db:
        found = check_due(db, lambda day: load_population(context, day), TODAY, OFFICE)
    due = {(f.uscc, f.number): f for f in found}
    assert due[(uscc(1), 2)].state == instalment_plans.PAYABLE
    refused = due[(uscc(2), 2)]
    assert refused.state == instalment_plans.REFUSED and refused.amount == 200000.0
    assert f"截至 {TODAY} 不符合“次年拨付40%，须营业收入不低于上年”" in refused.reason
    assert due[(uscc(2), 1)].state == instalment_plans.PAYABLE  # its first is still unpaid

    assert _pay(url, ids[1], 2).amount == 120000.0
    with pytest.raises(workflow.WorkflowRefusedError, match="第 2 期不予拨付：截至"):
        _pay(url, ids[2], 2)
    with session_scope(url) as db:
        ledger = db.scalars(select(PolicyPayment).where(PolicyPayment.push_id == ids[1])).all()
        assert sorted((p.instalment, p.amount) for p in ledger) == [(1, 180000.0), (2, 120000.0)]
        # A cap over the enterprise counts what the push still stands to pay: 30万, less nothing
        # for 1; 50万 less the refused 20万 for 2.
        pushes = {n: db.get_one(PolicyPush, i) for n, i in ids.items()}
        stands = instalment_plans.instalments_of(db, list(ids.values()))
        assert instalment_plans.committed(pushes[1], stands[ids[1]]) == 300000.0
        assert instalment_plans.committed(pushes[2], stands[ids[2]]) == 300000.0


def test_a_policy_without_a_schedule_is_paid_at_once(
    context: RegistryContext, tmp_path: Path
) -> None:
    _city(context, tmp_path)
    ids = _publish(context, POLICY, "rd.yaml")
    with session_scope(context.database_url) as db:
        assert instalment_plans.instalments_of(db, list(ids.values())) == {}
    paid = _pay(context.database_url, ids[1])
    assert (paid.amount, paid.instalment) == (300000.0, 1)
    with pytest.raises(workflow.WorkflowRefusedError, match="这条推送已登记拨付"):
        _pay(context.database_url, ids[1])


def test_caps_count_each_instalment_paid(context: RegistryContext, tmp_path: Path) -> None:
    """每年累计不超过40万元: what the ledger holds as paid this year is the instalment paid (18万),
    not the amount confirmed (30万); a later instalment is held to the cap of the year it is
    paid in."""
    url = context.database_url
    capped = SCHEDULED.replace(
        "  amount: enterprise.rd_expense * params.rate\n",
        "  amount: enterprise.rd_expense * params.rate\n  yearly_cap: 40万\n",
    )
    _city(context, tmp_path)
    ids = _publish(context, capped, "capped.yaml")
    _pay(url, ids[1], 1)  # 18万 this year
    again = capped.replace("测试〔2026〕1号", "测试〔2026〕2号")
    population = load_population(context, TODAY)
    with session_scope(url) as db:
        second = _push_of(db, _release(db, population, again, "capped.yaml"), 1)
        assert second.amount == 220000.0  # 40万 less the 18万 paid
    _a_year_passes(url)
    with session_scope(url) as db:
        # 18万 and another 25万 paid this year already: the 40万 cap leaves nothing for 12万.
        db.add(
            PolicyPayment(
                policy_id="test-rd-reward",
                uscc=uscc(1),
                amount=250000.0,
                paid_on=TODAY,
                push_id=None,
                reference="",
                recorded_by="cli",
            )
        )
        check_due(db, lambda day: load_population(context, day), TODAY, OFFICE)
    with pytest.raises(workflow.WorkflowRefusedError, match="每年累计不超过 40万元"):
        _pay(url, ids[1], 2)
    with session_scope(url) as db:
        db.execute(
            update(PolicyPayment).where(PolicyPayment.push_id.is_(None)).values(amount=140000.0)
        )
    assert _pay(url, ids[1], 2).amount == 80000.0  # 40万 less the 18万 and 14万 paid this year


def _chanye(
    context: RegistryContext, tmp_path: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    """The command as a process, on the test's registry and database, in wide columns."""
    env = cli_env(tmp_path / "data", CHANYE_DATABASE_URL=context.database_url, COLUMNS="300")
    return subprocess.run(
        [CHANYE_BIN, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def test_payout_and_explain_say_how_the_amount_is_split(
    context: RegistryContext, tmp_path: Path
) -> None:
    """What would be paid (30万 + 50万) and one enterprise's amount (30万), each split 60/40."""
    _city(context, tmp_path)
    path = tmp_path / "scheduled.yaml"
    path.write_text(SCHEDULED, encoding="utf-8")
    later = "次年 40% {}（次年拨付40%，须营业收入不低于上年）"

    shown = _chanye(context, tmp_path, "policy", "payout", str(path))
    assert shown.returncode == 0, shown.stderr
    assert f"测试研发投入奖励：分 2 期：首期 60% 48万元（确认当日）、{later.format('32万元')}" in (
        shown.stdout
    )
    listed = json.loads(_chanye(context, tmp_path, "policy", "payout", str(path), "--json").stdout)
    assert [(s["share"], s["after_years"], s["amount"]) for s in listed[0]["schedule"]] == [
        (0.6, 0, 480000.0),
        (0.4, 1, 320000.0),
    ]
    assert listed[0]["schedule"][1]["text"] == "次年拨付40%，须营业收入不低于上年"

    explained = _chanye(context, tmp_path, "policy", "explain", str(path), uscc(1))
    assert explained.returncode == 0, explained.stderr
    assert f"分期拨付：分 2 期：首期 60% 18万元（确认当日）、{later.format('12万元')}" in (
        explained.stdout
    )


def test_the_instalments_command_lists_what_is_due(
    context: RegistryContext, tmp_path: Path
) -> None:
    _city(context, tmp_path)
    _publish(context, SCHEDULED, "scheduled.yaml")
    _a_year_passes(context.database_url)

    def instalments(*args: str) -> subprocess.CompletedProcess[str]:
        return _chanye(context, tmp_path, "policy", "instalments", *args)

    shown = instalments("--as-of", TODAY.isoformat())
    assert shown.returncode == 0, shown.stderr
    assert "第2期（共2期）" in shown.stdout and "不予拨付" in shown.stdout
    assert "12万元" in shown.stdout and "测试研发投入奖励" in shown.stdout
    assert f"截至 {TODAY}，到期未拨付 4 期，可拨付 3 期" in shown.stdout
    listed = json.loads(instalments("--json", "--policy", "test-rd-reward").stdout)
    states = {(r["uscc"], r["number"]): r["state"] for r in listed}
    assert states == {
        (uscc(1), 1): "payable",
        (uscc(1), 2): "payable",
        (uscc(2), 1): "payable",
        (uscc(2), 2): "refused",
    }
    assert json.loads(instalments("--json", "--policy", "other").stdout) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("share: 0.4", "share: 0.5"), "schedule 各期 share 之和须为 1（100%），此处为 1.1"),
        (
            ("      text: 首年拨付60%\n", "      when: enterprise.revenue > 0\n"),
            "schedule 第 1 期在确认享受后即拨付，不能写 when",
        ),
        (("after_years: 1", "after_year: 1"), "schedule 第 2 期：未知的键 after_year"),
        (("after_years: 1", "after_years: 0"), "schedule 第 2 期 after_years 须大于上一期"),
        (("share: 60%", "share: 六成"), "schedule 第 1 期 share 须为 0 到 1 之间的比例"),
    ],
)
def test_check_refuses_a_bad_schedule(
    change: tuple[str, str], expected: str, tmp_path: Path
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SCHEDULED.replace(*change), encoding="utf-8")
    line = next(x for x in refusal(path).splitlines() if expected in x)
    assert line.startswith(f"{path}:") and line.split(":")[1].isdigit(), line


def test_check_names_an_unknown_word_in_a_look_back(tmp_path: Path) -> None:
    path = tmp_path / "vocab.yaml"
    look_back = "      when: enterprise.revenue >= prior(enterprise.revenue)\n"
    path.write_text(
        SCHEDULED.replace(look_back, "      when: '\"above_scal\" in enterprise.tags'\n"),
        encoding="utf-8",
    )
    checked = run_cli("policy", "check", str(path), data_dir=tmp_path)
    assert checked.returncode == 1
    line = 1 + path.read_text(encoding="utf-8").splitlines().index(
        "      when: '\"above_scal\" in enterprise.tags'"
    )
    assert (
        f"{path}:{line}:5: 条件 schedule-2：未知的企业标签或资质“above_scal”，是否指 above_scale？"
        in checked.stderr
    )  # at the line of its when, as the web upload names it


def test_a_look_back_reads_the_registry_not_what_was_supplied(tmp_path: Path) -> None:
    """What the enterprise supplied when applying is not supplied again a year later."""
    path = tmp_path / "supplied.yaml"
    path.write_text(
        SCHEDULED.replace(
            "benefit:\n", "application:\n  - {id: spend, label: 购置额, kind: money}\nbenefit:\n"
        ).replace("enterprise.revenue >= prior(enterprise.revenue)", "application.spend > 0.0"),
        encoding="utf-8",
    )
    checked = run_cli("policy", "check", str(path), data_dir=tmp_path)
    assert checked.returncode == 1
    assert "schedule 第 2 期 when 只能读企业库数据" in checked.stderr, checked.stderr


def test_check_accepts_a_schedule(tmp_path: Path) -> None:
    path = tmp_path / "good.yaml"
    path.write_text(SCHEDULED, encoding="utf-8")
    checked = run_cli("policy", "check", str(path), data_dir=tmp_path)
    assert checked.returncode == 0 and "1 个条件" not in checked.stdout
    assert "2 个条件，免申即享，分 2 期拨付 / ok" in checked.stdout


def test_a_cap_group_counts_what_a_push_still_stands_to_pay(
    context: RegistryContext, tmp_path: Path
) -> None:
    """同一企业累计不超过60万元 over two policies: enterprise 2's first (50万, in two parts) no longer
    counts its refused second part (20万), so the other policy pays up to 60万 less 30万."""
    url = context.database_url
    group = "cap_group: {id: rd-group, cap: 600000.0}\n"
    _city(context, tmp_path)
    ids = _publish(context, group + SCHEDULED, "scheduled.yaml")
    _a_year_passes(url)
    with session_scope(url) as db:
        check_due(db, lambda day: load_population(context, day), TODAY, OFFICE)
    other = group + POLICY.replace("id: test-rd-reward", "id: test-rd-other").replace(
        "测试研发投入奖励", "测试研发投入配套奖励"
    )
    population = load_population(context, TODAY)
    with session_scope(url) as db:
        push = _push_of(db, _release(db, population, other, "other.yaml"), 2)
        assert push.amount == 500000.0
        workflow.confirm(db, push, enterprise(db, 2), Actor("e2", "enterprise"))
        assert push.amount == 300000.0  # not 100000.0: the refused 20万 is not counted
        first = db.get_one(PolicyPush, ids[2])
        assert first.amount == 500000.0  # the confirmed amount itself stays as decided
