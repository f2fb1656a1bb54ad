"""The payout ledger: 一次性, 每年累计不超过 and 未获得同类补贴 decided against what was actually
paid (imported from before the platform, or recorded when a confirmed push is paid)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from chanye.policy import payments, workflow
from chanye.policy.ledger import import_payments, read_payments
from chanye.policy.loader import PolicyFileError, load_policy_text
from chanye.policy.payout import payouts
from chanye.registry.context import RegistryContext
from chanye.store.audit import Actor
from chanye.store.database import session_scope
from chanye.store.models import PolicyPayment, PolicyPush
from tests.conftest import run_cli
from tests.policy.test_workflow import (
    OFFICE,
    POLICY,
    REVIEWER,
    enterprise,
    explained,
    load,
    registry_rows,
)
from tests.registry.factory import arrange_registry, uscc, write_csv

# 一次性, and not for a firm paid a subsidy of the 技术改造 kind (同类补贴).
ONCE = POLICY.replace(
    "  amount: enterprise.rd_expense * params.rate\n",
    "  amount: enterprise.rd_expense * params.rate\n  once: true\n  unless_paid: [tech-upgrade]\n",
)
# 每年累计不超过60万元.
CAPPED = POLICY.replace("id: test-rd-reward", "id: test-rd-capped").replace(
    "  amount: enterprise.rd_expense * params.rate\n",
    "  amount: enterprise.rd_expense * params.rate\n  yearly_cap: 60万\n",
)
PAST = (
    "统一社会信用代码,政策,同类,金额（万元）,拨付日期,凭证号\n"
    f"{uscc(1)},test-rd-reward,,20,2024-05-01,穗科拨〔2024〕8号\n"
    f"{uscc(2)},old-tech-upgrade,tech-upgrade,10,2025-03-01,\n"
    f"{uscc(2)},test-rd-capped,,30,2026-02-01,\n"
)


def _pushes_of(url: str, policy_id: str) -> dict[str, PolicyPush]:
    with session_scope(url) as db:
        found = db.scalars(select(PolicyPush).where(PolicyPush.policy_id == policy_id)).all()
        for push in found:
            db.expunge(push)
    return {p.uscc: p for p in found}


def _import(context: RegistryContext, tmp_path: Path) -> None:
    path = tmp_path / "past.csv"
    path.write_text(PAST, encoding="utf-8")
    payments, problems = read_payments(path)
    assert problems == []
    with session_scope(context.database_url) as db:
        assert import_payments(db, payments, Actor("cli", "admin")) == 3


def test_past_winners_are_not_paid_again_and_caps_count_what_was_paid(
    context: RegistryContext, tmp_path: Path
) -> None:
    url = context.database_url
    population = load(context, tmp_path, registry_rows())
    with session_scope(url) as db:
        once = workflow.add_draft(db, ONCE, "once.yaml", OFFICE)
        assert workflow.publish(db, once, REVIEWER, population).eligible == 2  # 1 and 2
    _import(context, tmp_path)
    with session_scope(url) as db:
        run = workflow.run_matching(db, once, population, REVIEWER)
        assert (run.eligible, run.lost) == (0, 2)
    once_pushes = _pushes_of(url, "test-rd-reward")
    first, second = once_pushes[uscc(1)], once_pushes[uscc(2)]
    assert first.status == second.status == workflow.WITHDRAWN
    said = explained(url, first)
    assert not said["eligible"] and said["ledger"]["blocked"]
    assert "已于 2024-05-01 获本政策奖补 20万元（一次性，不再享受）" in said["ledger"]["notes"]
    assert "获同类补贴（old-tech-upgrade）10万元" in explained(url, second)["ledger"]["notes"][0]

    with session_scope(url) as db:
        capped = workflow.add_draft(db, CAPPED, "capped.yaml", OFFICE)
        run = workflow.publish(db, capped, REVIEWER, population)
        # 2: 50万 due, 30万 paid this year under a 60万 yearly cap: 30万 left. 1: 30万 in full.
        assert (run.eligible, run.total_amount) == (2, 600000.0)
    mine = _pushes_of(url, "test-rd-capped")
    assert mine[uscc(2)].amount == 300000.0 and mine[uscc(1)].amount == 300000.0
    assert "每年累计不超过 60万元" in explained(url, mine[uscc(2)])["ledger"]["notes"][0]

    # Paid now: the confirmed push is recorded once, and the next run reads it.
    with session_scope(url) as db:
        push = db.get_one(PolicyPush, mine[uscc(1)].id)
        workflow.confirm(db, push, enterprise(db, 1), Actor("e1", "enterprise"))
        payments.record_payment(db, push, dt.date(2026, 7, 1), "拨-1", OFFICE)
        with pytest.raises(workflow.WorkflowRefusedError, match="已登记拨付"):
            payments.record_payment(db, push, dt.date(2026, 7, 1), "", OFFICE)
        other = db.get_one(PolicyPush, mine[uscc(2)].id)
        with pytest.raises(workflow.WorkflowRefusedError, match="只有已确认享受"):
            payments.record_payment(db, other, dt.date(2026, 7, 1), "", OFFICE)
        paid = db.query(PolicyPayment).filter_by(push_id=push.id).one()
        assert (paid.amount, paid.paid_on) == (300000.0, dt.date(2026, 7, 1))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("  once: true\n", "  once: 是\n"), "once 须为 true 或 false"),
        (("unless_paid: [tech-upgrade]", "unless_paid: [技术改造]"), "unless_paid 须为政策 id"),
        (("  once: true\n", "  yearly_cap: -5\n"), "yearly_cap 须为正的金额"),
        (("  once: true\n", "  every_year: true\n"), "benefit 中未知的键 every_year"),
    ],
)
def test_ledger_limits_are_checked(change: tuple[str, str], expected: str) -> None:
    with pytest.raises(PolicyFileError) as caught:
        load_policy_text(ONCE.replace(*change), "p.yaml")
    assert any(expected in str(p) for p in caught.value.problems), caught.value.problems


def _wrong_check(code: str) -> str:
    return code[:-1] + ("0" if code[-1] != "0" else "1")


def test_the_import_command_names_each_bad_row_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        PAST
        + f"{uscc(3)},test-rd-reward,,很多,2024-13-01,\n"
        + "x,Bad Id,,5,2024-01-01,\n"
        + f"{_wrong_check(uscc(4))},test-rd-reward,,5,2024-01-01,\n",
        encoding="utf-8",
    )
    refused = run_cli("policy", "payments", "import", str(bad), data_dir=tmp_path)
    assert refused.returncode == 1
    assert "bad.csv 第 5 行 金额：须为正的金额，收到“很多”" in refused.stderr
    assert "bad.csv 第 5 行 拨付日期：须为日期" in refused.stderr
    assert (
        "bad.csv 第 6 行 统一社会信用代码" in refused.stderr
        and "未写入任何拨付记录" in refused.stderr
    )
    good = tmp_path / "good.csv"
    good.write_text(PAST, encoding="utf-8")
    done = run_cli("policy", "payments", "import", str(good), data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "已写入 3 条拨付记录，合计 60万元" in done.stdout
    with session_scope(f"sqlite:///{tmp_path / 'chanye.db'}") as db:
        assert db.query(PolicyPayment).count() == 3  # the bad file wrote none


def test_explain_reads_the_ledger_as_the_pushes_do(tmp_path: Path) -> None:
    """``chanye policy explain`` of a past winner of a one-off benefit: every condition holds,
    but it is explained as not paid again, with the payment on record."""
    data = tmp_path / "d"
    listing = write_csv(tmp_path / "list.csv", registry_rows())
    arrange_registry(data, listing)
    policy = tmp_path / "once.yaml"
    policy.write_text(ONCE, encoding="utf-8")

    def explain(n: int, *extra: str) -> str:
        done = run_cli(
            "policy",
            "explain",
            str(policy),
            uscc(n),
            "--as-of",
            "2026-06-30",
            *extra,
            data_dir=data,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "：符合" in explain(1)
    past = tmp_path / "past.csv"
    past.write_text(PAST, encoding="utf-8")
    imported = run_cli("policy", "payments", "import", str(past), data_dir=data)
    assert imported.returncode == 0, imported.stderr
    said = explain(1)
    assert "：不再享受" in said and "：符合" not in said
    assert "拨付记录：已于 2024-05-01 获本政策奖补 20万元（一次性，不再享受）" in said
    assert "[满足] 经认定的高新技术企业" in said  # the conditions hold: the ledger rules it out
    assert "金额：" not in said
    other = json.loads(explain(2, "--json"))  # paid a subsidy of the same kind (同类补贴)
    assert not other["eligible"] and other["ledger"]["blocked"]
    assert "获同类补贴（old-tech-upgrade）10万元" in other["ledger"]["notes"][0]


def _fixed(policy_id: str, amount: str, extra: str) -> str:
    """POLICY paying a fixed amount, with extra top-level keys."""
    return (
        POLICY.replace("id: test-rd-reward", f"id: {policy_id}\n{extra}")
        .replace("  amount: enterprise.rd_expense * params.rate\n", f"  amount: {amount}\n")
        .replace("  rate: 0.1\n", "")
    )


def test_payout_is_what_is_left_after_groups_caps_and_the_ledger(
    context: RegistryContext, tmp_path: Path
) -> None:
    population = load(context, tmp_path, registry_rows())  # 1 and 2 qualify for each
    _import(context, tmp_path)
    policies = [
        load_policy_text(text, "p.yaml")
        for text in (
            ONCE,  # 1 and 2 ruled out by what was paid
            CAPPED,  # 2 lowered to the 30万 its yearly cap leaves
            _fixed("ex-low", "100000.0", "exclusive_group: honour"),
            _fixed("ex-high", "200000.0", "exclusive_group: honour"),  # taken instead
            _fixed("cap-a", "300000.0", "cap_group: {id: g, cap: 350000.0}"),
            _fixed("cap-b", "100000.0", "cap_group: {id: g, cap: 350000.0}"),  # 5万 left
        )
    ]
    with session_scope(context.database_url) as db:
        found = {p.policy_id: p for p in payouts(db, population, policies)}
    assert (found["test-rd-reward"].eligible, found["test-rd-reward"].payable) == (2, 0)
    assert found["test-rd-reward"].by_ledger == 2
    assert found["test-rd-capped"].formula_total == 800000.0
    assert found["test-rd-capped"].payable_total == 600000.0
    assert (found["ex-low"].payable, found["ex-low"].by_exclusive_group) == (0, 2)
    assert found["ex-high"].payable_total == 400000.0
    assert found["cap-a"].payable_total == 600000.0
    assert (found["cap-b"].payable_total, found["cap-b"].by_cap_group) == (100000.0, 2)
    assert all(p.needs_data == 1 for p in found.values())  # 3 lacks its R&D figure


def test_payout_groups_count_what_was_paid_before_the_platform(
    context: RegistryContext, tmp_path: Path
) -> None:
    """A rival of an exclusive group paid before rules the group out; a cap group's cap is
    lowered by what its policies paid before (within the validity)."""
    population = load(context, tmp_path, registry_rows())  # 1 and 2 qualify for each
    path = tmp_path / "groups.csv"
    path.write_text(
        "统一社会信用代码,政策,金额（万元）,拨付日期\n"
        f"{uscc(1)},ex-low,5,2025-04-01\n"
        f"{uscc(1)},cap-a,20,2025-04-01\n"
        f"{uscc(2)},cap-a,20,2019-04-01\n",  # before the validity: not counted
        encoding="utf-8",
    )
    payments, problems = read_payments(path)
    assert problems == []
    policies = [
        load_policy_text(text, "p.yaml")
        for text in (
            _fixed("ex-low", "100000.0", "exclusive_group: honour"),
            _fixed("ex-high", "200000.0", "exclusive_group: honour"),
            _fixed("cap-a", "300000.0", "cap_group: {id: g, cap: 350000.0}"),
            _fixed("cap-b", "100000.0", "cap_group: {id: g, cap: 350000.0}"),
        )
    ]
    with session_scope(context.database_url) as db:
        import_payments(db, payments, Actor("cli", "admin"))
        found = {p.policy_id: p for p in payouts(db, population, policies)}
    assert (found["ex-high"].payable, found["ex-high"].payable_total) == (1, 200000.0)
    assert found["ex-low"].payable == 0
    assert found["cap-a"].payable_total == 150000.0 + 300000.0  # 1: 35万 less 20万 paid
    assert found["cap-b"].payable_total == 50000.0  # 1: nothing left; 2: 5万
