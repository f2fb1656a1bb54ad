"""免申即享 workflow: versions, publish → pushes, idempotent re-runs, decisions, disbursement."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.orm import Session

from chanye.policy import payments, workflow
from chanye.policy.explain import explain
from chanye.policy.loader import PolicyFileError
from chanye.policy.population import Population, load_population
from chanye.portal import binding
from chanye.registry.context import RegistryContext
from chanye.registry.importer import import_file
from chanye.store.audit import Actor, verify_chain
from chanye.store.database import session_scope
from chanye.store.models import Account, AuditEntry, PolicyPush, PolicyRun, PolicyVersion
from tests.registry.factory import row, uscc, write_csv

AS_OF = dt.date(2026, 6, 30)
OFFICE = Actor("policy-1", "policy_office", "127.0.0.1")
# 双人复核: a second officer publishes what OFFICE drafted.
REVIEWER = Actor("policy-2", "policy_office", "127.0.0.1")
SYSTEM = Actor("system", "system")
POLICY = """\
id: test-rd-reward
title: 测试研发投入奖励
issuer: 广州市科学技术局
document: 测试〔2026〕1号
valid: {from: 2025-01-01, to: 2027-12-31}
parameters:
  min_rd_expense: 1000000.0
  rate: 0.1
conditions:
  - id: high-tech
    text: 经认定的高新技术企业（第二条）
    when: '"high_tech" in enterprise.tags'
  - id: rd-expense
    text: 上年度研发费用不低于100万元（第三条）
    when: enterprise.rd_expense >= params.min_rd_expense
benefit:
  amount: enterprise.rd_expense * params.rate
"""
RD = "研发费用（万元）"


def registry_rows(**changes: dict[str, str]) -> list[list[str]]:
    """1, 2 eligible; 3 lacks R&D data (needs data); 4 is no high-tech firm; 5 spends too little."""
    base = {1: {RD: "300"}, 2: {RD: "500"}, 3: {RD: ""}, 4: {"企业标签": ""}, 5: {RD: "50"}}
    for key, value in changes.items():
        base[int(key.removeprefix("n"))].update(value)
    return [row(n, **values) for n, values in base.items()]


def load(context: RegistryContext, tmp_path: Path, rows: list[list[str]]) -> Population:
    path = write_csv(tmp_path / f"registry-{len(list(tmp_path.glob('*.csv')))}.csv", rows)
    result = import_file(context.database_url, context.paths, context.system, path, SYSTEM)
    assert result.exit_code == 0
    return load_population(context, AS_OF)


def pushes(url: str) -> dict[str, PolicyPush]:
    with session_scope(url) as db:
        found = db.scalars(select(PolicyPush)).all()
        for push in found:
            db.expunge(push)
    return {p.uscc: p for p in found}


def explained(url: str, push: PolicyPush) -> dict[str, Any]:
    """The push's explanation, in the words of its version."""
    with session_scope(url) as db:
        version = db.get(PolicyVersion, push.policy_version_id)
        assert version is not None
        return workflow.explanation_of(push, version)


def enterprise(db: Session, n: int | None, verified: bool = True) -> Account:
    """The account of enterprise n (made once), its binding verified unless told otherwise."""
    username = f"e{n}" if verified else f"claimant{n}"
    account = db.scalar(select(Account).where(Account.username == username))
    if account is None:
        account = Account(
            username=username,
            email=f"{username}@example.cn",
            display_name=username,
            kind="enterprise",
            role="enterprise",
            password_hash="-",
            enterprise_uscc=uscc(n) if n else None,
        )
        db.add(account)
        db.flush()
        if verified and n:
            binding.verify_by_administrator(db, account, Actor("test", "admin"))
    return account


def test_publish_pushes_rerun_and_decide(context: RegistryContext, tmp_path: Path) -> None:
    url = context.database_url
    population = load(context, tmp_path, registry_rows())
    with session_scope(url) as db:
        draft = workflow.add_draft(db, POLICY, "rd.yaml", OFFICE)
        assert (draft.version, draft.status) == (1, workflow.DRAFT)
        run = workflow.publish(db, draft, REVIEWER, population)
        assert (run.eligible, run.needs_data, run.total_amount) == (2, 1, 800000.0)
        assert (run.gained, run.lost) == (2, 0)
        assert draft.status == workflow.PUBLISHED and run.registry_change_id == 1
    first = pushes(url)
    assert set(first) == {uscc(1), uscc(2), uscc(3)}
    assert first[uscc(1)].amount == 300000.0 and not first[uscc(1)].needs_data
    assert first[uscc(3)].needs_data and first[uscc(3)].amount is None
    evidence = explained(url, first[uscc(1)])
    assert evidence["eligible"] and evidence["registry_change_id"] == 1
    assert evidence["conditions"][1]["values"] == {"rd_expense": 3000000.0}
    assert evidence["conditions"][1]["text"] == "上年度研发费用不低于100万元（第三条）"
    assert "30万元" in evidence["arithmetic"]
    missing = explained(url, first[uscc(3)])["conditions"][1]
    assert (missing["outcome"], missing["missing"]) == ("unknown", ["rd_expense"])
    # A push keeps the decision's facts, not the clauses: they come back from its version, and
    # the explanation is the one the enterprise's record gives live (the run's ids beside it).
    assert "第三条" not in first[uscc(1)].explanation
    policy = workflow.policy_of(draft)
    for n in (1, 3, 2):
        stored = explained(url, first[uscc(n)])
        assert stored.pop("run_id") == run.id and stored.pop("registry_change_id") == 1
        assert stored == explain(population, policy, uscc(n)).to_dict()  # type: ignore[union-attr]

    # The enterprise decides: only on its own push; no confirming while data is missing.
    with session_scope(url) as db:
        push_1 = db.get(PolicyPush, first[uscc(1)].id)
        assert push_1 is not None
        with pytest.raises(workflow.NotYourPushError):
            workflow.confirm(db, push_1, enterprise(db, 2), Actor("e2", "enterprise"))
        with pytest.raises(workflow.NotYourPushError):
            workflow.confirm(db, push_1, enterprise(db, None), Actor("x", "enterprise"))
        # Claiming the USCC is not enough: an account whose binding is not verified is refused.
        with pytest.raises(workflow.NotYourPushError):
            workflow.confirm(
                db, push_1, enterprise(db, 1, verified=False), Actor("c1", "enterprise")
            )
    with session_scope(url) as db:
        push_1, push_3 = (
            db.get(PolicyPush, first[uscc(1)].id),
            db.get(PolicyPush, first[uscc(3)].id),
        )
        assert push_1 is not None and push_3 is not None
        workflow.confirm(db, push_1, enterprise(db, 1), Actor("e1", "enterprise"))
        with pytest.raises(workflow.WorkflowRefusedError, match="尚缺部分数据"):
            workflow.confirm(db, push_3, enterprise(db, 3), Actor("e3", "enterprise"))
        with pytest.raises(workflow.WorkflowRefusedError, match="不能再更改"):
            workflow.decline(db, push_1, enterprise(db, 1), Actor("e1", "enterprise"))

    # The registry changes: 2 no longer qualifies, 5 now does, 1's R&D rises after it confirmed.
    population = load(
        context, tmp_path, registry_rows(n1={RD: "900"}, n2={RD: "20"}, n5={RD: "200"})
    )
    with session_scope(url) as db:
        version = db.get(PolicyVersion, draft.id)
        assert version is not None
        (run,) = workflow.rerun_published(db, population, SYSTEM)
        assert (run.eligible, run.needs_data, run.gained, run.lost) == (2, 1, 1, 1)
        assert run.total_amount == 900000.0 + 200000.0 and run.registry_change_id == 2
    second = pushes(url)
    assert set(second) == {uscc(1), uscc(2), uscc(3), uscc(5)}  # kept, none duplicated
    assert second[uscc(2)].status == workflow.WITHDRAWN
    assert "rd-expense" in [
        c["id"] for c in explained(url, second[uscc(2)])["conditions"] if c["outcome"] == "fails"
    ]
    assert (second[uscc(5)].status, second[uscc(5)].amount) == (workflow.PUSHED, 200000.0)
    assert second[uscc(1)].status == workflow.CONFIRMED
    assert second[uscc(1)].amount == 300000.0  # decided on 300,000: the decision's figures stay
    assert second[uscc(1)].explanation == first[uscc(1)].explanation

    # Nothing changed: a third run changes nothing but its own record.
    with session_scope(url) as db:
        (run,) = workflow.rerun_published(db, population, SYSTEM)
        assert (run.gained, run.lost, run.eligible) == (0, 0, 2)
    third = pushes(url)
    assert {u: (p.status, p.amount, p.updated_at) for u, p in third.items()} == {
        u: (p.status, p.amount, p.updated_at) for u, p in second.items()
    }

    # 2 qualifies again: its withdrawn push is pushed again, not duplicated.
    population = load(context, tmp_path, registry_rows(n2={RD: "500"}, n5={RD: "200"}))
    with session_scope(url) as db:
        (run,) = workflow.rerun_published(db, population, SYSTEM)
        assert (run.gained, run.lost) == (1, 0)
        declined = db.get(PolicyPush, third[uscc(5)].id)
        assert declined is not None
        workflow.decline(db, declined, enterprise(db, 5), Actor("e5", "enterprise"))
    fourth = pushes(url)
    assert len(fourth) == 4 and fourth[uscc(2)].status == workflow.PUSHED
    assert fourth[uscc(5)].status == workflow.DECLINED and fourth[uscc(5)].decided_by == "e5"

    with session_scope(url) as db:
        actions = [(a.action, a.result) for a in db.scalars(select(AuditEntry))]
        assert actions.count(("policy.run", "success")) == 4
        assert ("policy.draft", "success") in actions and ("policy.publish", "success") in actions
        # Refused: another enterprise, an account of none, an unverified claimant.
        assert actions.count(("policy.push.confirm", "refused")) == 3
        assert actions.count(("policy.push.confirm", "success")) == 1
        assert ("policy.push.decline", "success") in actions
        assert db.scalar(select(PolicyRun.id).order_by(PolicyRun.id.desc())) == 4
        assert verify_chain(db) == []

        rows = payments.disbursement(db, draft.id)
        assert [(r.uscc, r.status) for r in rows] == [
            (uscc(1), "confirmed"),
            (uscc(2), "pushed"),
            (uscc(3), "pushed"),
            (uscc(5), "declined"),
        ]
        assert rows[0].name == "广州测试1号科技有限公司" and rows[0].decided_at is not None
        version = db.get(PolicyVersion, draft.id)
        assert version is not None
        book = load_workbook(io.BytesIO(payments.disbursement_xlsx(db, version)))
    paid = list(book["拨付清单"].iter_rows(values_only=True))
    assert paid[1] == payments.XLSX_HEADERS
    assert paid[2][1:5] == (uscc(1), "广州测试1号科技有限公司", 300000.0, "已确认享受")
    assert paid[-1][0] == "合计" and paid[-1][3] == 300000.0
    assert len(list(book["推送明细"].iter_rows(values_only=True))) == 2 + 4


def test_versions_drafts_and_expiry(context: RegistryContext, tmp_path: Path) -> None:
    url = context.database_url
    population = load(context, tmp_path, registry_rows())
    with session_scope(url) as db:
        with pytest.raises(PolicyFileError) as bad:
            workflow.add_draft(
                db,
                POLICY.replace("enterprise.rd_expense >=", "enterprise.rd >="),
                "bad.yaml",
                OFFICE,
            )
        assert str(bad.value.problems[0]).startswith("bad.yaml:15:")
        with pytest.raises(PolicyFileError, match="保留字"):
            workflow.add_draft(
                db, POLICY.replace("id: test-rd-reward", "id: manage"), "m.yaml", OFFICE
            )
        first = workflow.add_draft(db, POLICY, "rd.yaml", OFFICE)
        with pytest.raises(workflow.WorkflowRefusedError, match="内容相同"):
            workflow.add_draft(db, POLICY, "again.yaml", OFFICE)
        workflow.publish(db, first, REVIEWER, population)
        with pytest.raises(workflow.WorkflowRefusedError, match="只能发布草稿"):
            workflow.publish(db, first, REVIEWER, population)
        second = workflow.add_draft(
            db, POLICY.replace("rate: 0.1", "rate: 0.2"), "rd2.yaml", OFFICE
        )
        assert second.version == 2
        with pytest.raises(workflow.WorkflowRefusedError, match="已发布"):
            workflow.run_matching(db, second, population, OFFICE)
        run = workflow.publish(db, second, REVIEWER, population)
        assert first.status == workflow.EXPIRED and first.expired_at is not None
        assert run.total_amount == 1600000.0
        old = db.scalars(select(PolicyPush).where(PolicyPush.policy_version_id == first.id)).all()
        assert {p.status for p in old} == {workflow.WITHDRAWN}
        assert workflow.current_version(workflow.versions_of(db, "test-rd-reward"), False) == second


def test_policy_out_of_validity_pushes_nothing(context: RegistryContext, tmp_path: Path) -> None:
    population = load(context, tmp_path, registry_rows())
    expired = POLICY.replace("to: 2027-12-31", "to: 2026-06-29")
    with session_scope(context.database_url) as db:
        run = workflow.publish(
            db, workflow.add_draft(db, expired, "old.yaml", OFFICE), REVIEWER, population
        )
        assert (run.eligible, run.needs_data) == (0, 0)


def test_seed_demo_publishes_every_demo_policy_once(
    context: RegistryContext, tmp_path: Path
) -> None:
    from chanye.policy.service import demo_policies

    population = load(context, tmp_path, registry_rows())
    with session_scope(context.database_url) as db:
        runs = workflow.seed_demo(db, population, SYSTEM)
        assert len(runs) == len(demo_policies()) >= 8
        assert workflow.seed_demo(db, population, SYSTEM) == []
        assert len(workflow.published_versions(db)) == len(runs)


def test_no_double_benefit_within_an_exclusive_group(
    context: RegistryContext, tmp_path: Path
) -> None:
    population = load(context, tmp_path, registry_rows())
    grouped = POLICY.replace("parameters:", "exclusive_group: rd-expense\nparameters:")
    other = grouped.replace("id: test-rd-reward", "id: test-rd-other").replace(
        "title: 测试研发投入奖励", "title: 测试研发另一补助"
    )
    with session_scope(context.database_url) as db:
        for text in (grouped, other):
            workflow.publish(
                db, workflow.add_draft(db, text, "g.yaml", OFFICE), REVIEWER, population
            )
        mine = workflow.pushes_for(db, uscc(1))
        assert len(mine) == 2
        rivals = workflow.exclusive_rivals(mine)
        assert sorted(title for titles in rivals.values() for title in titles) == [
            "测试研发另一补助",
            "测试研发投入奖励",
        ]
        first, second = (push for push, _version in mine)
        workflow.confirm(db, first, enterprise(db, 1), Actor("e1", "enterprise"))
        with pytest.raises(workflow.WorkflowRefusedError, match="不重复享受"):
            workflow.confirm(db, second, enterprise(db, 1), Actor("e1", "enterprise"))
        workflow.decline(db, second, enterprise(db, 1), Actor("e1", "enterprise"))


def test_a_cap_group_limits_what_one_enterprise_is_paid(
    context: RegistryContext, tmp_path: Path
) -> None:
    population = load(context, tmp_path, registry_rows())  # enterprise 1: 300万 R&D → 30万 each
    capped = POLICY + "cap_group: {id: innovation, cap: 400000.0}\n"
    other = capped.replace("id: test-rd-reward", "id: test-rd-other")
    with session_scope(context.database_url) as db:
        for text in (capped, other):
            workflow.publish(
                db, workflow.add_draft(db, text, "c.yaml", OFFICE), REVIEWER, population
            )
        first, second = (push for push, _version in workflow.pushes_for(db, uscc(1)))
        workflow.confirm(db, first, enterprise(db, 1), Actor("e1", "enterprise"))
        workflow.confirm(db, second, enterprise(db, 1), Actor("e1", "enterprise"))
        assert (first.amount, second.amount) == (300000.0, 100000.0)  # the rest of the cap


def test_groups_count_what_was_paid_before_the_platform(
    context: RegistryContext, tmp_path: Path
) -> None:
    """cap_group and exclusive_group act on what was actually paid: a payment imported into the
    ledger lowers what the cap leaves, and one by a rival of the exclusive group refuses."""
    from chanye.policy import ledger

    population = load(context, tmp_path, registry_rows())  # enterprise 1: 30万 each, 2: 50万
    capped = POLICY + "cap_group: {id: innovation, cap: 400000.0}\n"
    paid_before = capped.replace("id: test-rd-reward", "id: test-rd-earlier")
    grouped = POLICY.replace("parameters:", "exclusive_group: rd-expense\nparameters:")
    rival = grouped.replace("id: test-rd-reward", "id: test-rd-rival").replace(
        "title: 测试研发投入奖励", "title: 测试研发另一补助"
    )
    earlier = [
        ledger.ImportedPayment(uscc(1), "test-rd-earlier", None, 250000.0, dt.date(2025, 6, 1), ""),
        ledger.ImportedPayment(uscc(2), "test-rd-rival", None, 100000.0, dt.date(2025, 6, 1), ""),
    ]
    with session_scope(context.database_url) as db:
        ledger.import_payments(db, earlier, SYSTEM)
        versions = [workflow.add_draft(db, t, "g.yaml", OFFICE) for t in (paid_before, rival)]
        for version in versions:  # both policies known to the platform, neither published
            workflow.approve(db, version, REVIEWER)
        workflow.publish(db, workflow.add_draft(db, capped, "c.yaml", OFFICE), REVIEWER, population)
        ((capped_push, _),) = workflow.pushes_for(db, uscc(1))
        workflow.confirm(db, capped_push, enterprise(db, 1), Actor("e1", "enterprise"))
        assert capped_push.amount == 150000.0  # 40万 cap less the 25万 paid before
    with session_scope(context.database_url) as db:
        workflow.publish(
            db, workflow.add_draft(db, grouped, "e.yaml", OFFICE), REVIEWER, population
        )
        push = next(
            p for p, v in workflow.pushes_for(db, uscc(2)) if v.policy_id == "test-rd-reward"
        )
        with pytest.raises(workflow.WorkflowRefusedError, match=r"测试研发另一补助.*不重复享受"):
            workflow.confirm(db, push, enterprise(db, 2), Actor("e2", "enterprise"))


def test_a_push_written_with_its_whole_explanation_still_reads(
    context: RegistryContext, tmp_path: Path
) -> None:
    """Pushes stored before the evidence was kept apart from the clauses hold the whole
    explanation: it is read as it is."""
    population = load(context, tmp_path, registry_rows())
    url = context.database_url
    with session_scope(url) as db:
        version = workflow.add_draft(db, POLICY, "rd.yaml", OFFICE)
        workflow.publish(db, version, REVIEWER, population)
        push = db.scalars(select(PolicyPush).where(PolicyPush.uscc == uscc(1))).one()
        whole = workflow.explanation_of(push, version)
        push.explanation = json.dumps(whole, ensure_ascii=False)
    (stored,) = [p for p in pushes(url).values() if p.uscc == uscc(1)]
    assert "第三条" in stored.explanation
    assert explained(url, stored) == whole


# 快申, 技术改造 in the style of a real clause: 新购置设备500万元以上的，按设备购置额10%奖励，最高
# 1000万元 (新设备购置额: a value the platform does not hold). The application pages' tests use it too.
EQUIPMENT = """\
id: test-equipment-reward
title: 测试技术改造设备奖励
issuer: 广州市工业和信息化局
valid: {from: 2025-01-01, to: 2030-12-31}
parameters: {min_spend: 5000000.0, rate: 0.1, cap: 10000000.0}
application:
  - id: equipment_spend
    label: 新设备购置额
    kind: money
    unit: 万元
    help: 上年度新购置生产设备的发票金额合计（不含税）
    attachments: [设备购置发票清单]
conditions:
  - id: active
    text: 在广州市登记注册、处于存续状态的企业（第二条）
    when: enterprise.status == "active" && enterprise.district_code.startsWith("4401")
  - id: spend
    text: 上年度新设备购置额不低于500万元（第三条）
    when: application.equipment_spend >= params.min_spend
benefit:
  amount: min(application.equipment_spend * params.rate, params.cap)
"""


def test_a_verified_application_is_decided_on_that_enterprise_alone(
    context: RegistryContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Verifying one application decides its push from that enterprise's record and values,
    as a run over the whole population would: 600万 × 10% = 60万; 300万 is too little."""
    from chanye.store.models import PolicyApplication

    population = load(context, tmp_path, registry_rows())
    url = context.database_url
    with session_scope(url) as db:
        version = workflow.add_draft(db, EQUIPMENT, "e.yaml", OFFICE)
        assert workflow.publish(db, version, REVIEWER, population).needs_data == 5
    before = pushes(url)
    spent = {1: 6_000_000.0, 2: 3_000_000.0}
    with session_scope(url) as db:
        for n, spend in spent.items():
            db.add(
                PolicyApplication(
                    push_id=before[uscc(n)].id,
                    policy_id="test-equipment-reward",
                    uscc=uscc(n),
                    values=json.dumps({"equipment_spend": spend}),
                    status=workflow.VERIFIED,
                    submitted_by=f"e{n}",
                )
            )
        db.flush()
        version = db.get_one(PolicyVersion, before[uscc(1)].policy_version_id)
        policy = workflow.policy_of(version)
        city_wide, _states = workflow.decisions(
            population, policy, None, workflow.verified_values(db, policy)
        )

        def whole_population(*_args: object) -> None:
            raise AssertionError("one application decided by running the whole population")

        monkeypatch.setattr(workflow, "candidates", whole_population)
        for n in spent:
            workflow.redecide(db, db.get_one(PolicyPush, before[uscc(n)].id), version, population)
    after = pushes(url)
    first, second = after[uscc(1)], after[uscc(2)]
    assert (first.status, first.amount, first.needs_data) == (workflow.PUSHED, 600_000.0, False)
    decided = city_wide[uscc(1)]
    assert (first.amount, first.needs_data, first.source_change_id) == (
        decided.amount,
        decided.needs_data,
        decided.change_id,
    )
    assert first.source_change_id == before[uscc(1)].source_change_id is not None
    assert second.status == workflow.WITHDRAWN and uscc(2) not in city_wide
    said = explained(url, second)
    assert [c["outcome"] for c in said["conditions"]] == ["holds", "fails"]
    assert after[uscc(3)].needs_data and after[uscc(3)].status == workflow.PUSHED  # untouched
