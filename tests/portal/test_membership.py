"""入会申请 workflow on SQLite and PostgreSQL: refusals that write nothing, review steps, mail."""

from __future__ import annotations

import json
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import func, select

from chanye.config import Settings
from chanye.portal import membership
from chanye.portal.accounts import create_account
from chanye.portal.binding import verified_uscc
from chanye.portal.documents import Upload
from chanye.portal.membership import ApplicationForm, MembershipRefusedError
from chanye.store.audit import Actor, verify_chain
from chanye.store.database import session_scope
from chanye.store.migrate import upgrade
from chanye.store.models import (
    Account,
    AuditEntry,
    MembershipApplication,
    MembershipDocument,
)
from chanye.system.versions import system_in_force
from tests.portal.test_documents import EXE, PDF, png
from tests.registry.factory import uscc

REVIEWER = Actor("analyst1", "analyst", "10.0.0.9")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    upgrade(database_url)
    return Settings(data_dir=tmp_path / "data", database_url=database_url, max_document_mb=1)


def enterprise(settings: Settings, name: str, code: str | None, role: str = "enterprise") -> int:
    with session_scope(settings.resolved_database_url) as session:
        account, _ = create_account(
            session,
            username=name,
            email=f"{name}@example.cn",
            display_name=f"广州{name}科技有限公司",
            role=role,
            actor=Actor("test", "admin"),
            password="Zq8!chanye-test",
            enterprise_uscc=code,
        )
        return account.id


def form(**changes: str) -> ApplicationForm:
    values = {
        "company_name": "广州星河科技有限公司",
        "enterprise_uscc": uscc(1),
        "legal_representative": "王强",
        "industry_id": "icv-nev",
        "district": "440106",
        "address": "广州市天河区科韵路 1 号",
        "contact_name": "李明",
        "contact_mobile": "13800138000",
        "contact_email": "liming@xinghe.example",
        "introduction": "动力电池管理系统",
    }
    values.update(changes)
    return ApplicationForm(**values)


LICENCE = [Upload("licence", "营业执照.pdf", PDF), Upload("other", "资质.pdf", png())]


def submit(settings: Settings, account_id: int, **kw: object) -> int:
    with session_scope(settings.resolved_database_url) as session:
        account = session.get_one(Account, account_id)
        application = membership.submit(
            session,
            settings,
            account,
            kw.get("form", form()),  # type: ignore[arg-type]
            kw.get("uploads", LICENCE),  # type: ignore[arg-type]
            Actor(account.username, account.role, "10.0.0.1"),
        )
        return application.id


def step(settings: Settings, application_id: int, decision: str = "", reason: str = "") -> None:
    with session_scope(settings.resolved_database_url) as session:
        application = session.get_one(MembershipApplication, application_id)
        if decision:
            membership.decide(session, settings, application, decision, reason, REVIEWER)
        else:
            membership.start_review(session, settings, application, REVIEWER)


def mails(settings: Settings) -> list[EmailMessage]:
    found = sorted(settings.outbox_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in found]


def counts(settings: Settings) -> tuple[int, int, int]:
    with session_scope(settings.resolved_database_url) as session:
        return (
            session.scalar(select(func.count()).select_from(MembershipApplication)) or 0,
            session.scalar(select(func.count()).select_from(MembershipDocument)) or 0,
            len(list((settings.uploads_dir / "membership").glob("*"))),
        )


def test_refusal_lists_every_problem_and_writes_nothing(settings: Settings) -> None:
    account_id = enterprise(settings, "xinghe", uscc(1))
    bad = form(
        company_name=" ",
        enterprise_uscc=uscc(2),
        industry_id="no-such-industry",
        district="110101",
        contact_mobile="12345",
        contact_email="not-mail",
    )
    uploads = [Upload("licence", "营业执照.pdf", EXE)]
    with pytest.raises(MembershipRefusedError) as refused:
        submit(settings, account_id, form=bad, uploads=uploads)
    problems = {p.field: f"{p.zh} / {p.en}" for p in refused.value.problems}
    assert set(problems) == {
        "company_name",
        "enterprise_uscc",
        "industry_id",
        "district",
        "contact_mobile",
        "contact_email",
        "licence",
    }
    assert uscc(1) in problems["enterprise_uscc"] and "一致" in problems["enterprise_uscc"]
    assert "营业执照.pdf" in problems["licence"]
    assert counts(settings) == (0, 0, 0) and mails(settings) == []
    bad_code = form(enterprise_uscc=uscc(1)[:-1] + ("0" if uscc(1)[-1] != "0" else "1"))
    with pytest.raises(MembershipRefusedError) as refused:
        submit(settings, account_id, form=bad_code)
    assert [p.zh for p in refused.value.problems] == ["统一社会信用代码无效（请核对校验位）"]


def test_submit_review_approve_makes_a_member_and_tells_the_applicant(settings: Settings) -> None:
    account_id = enterprise(settings, "xinghe", uscc(1))
    application_id = submit(settings, account_id, form=form(enterprise_uscc=uscc(1).lower()))
    assert counts(settings) == (1, 2, 2)
    with pytest.raises(MembershipRefusedError, match="请等待审核结果"):
        submit(settings, account_id)
    step(settings, application_id)
    step(settings, application_id, "approve")
    with session_scope(settings.resolved_database_url) as session:
        application = session.get_one(MembershipApplication, application_id)
        assert (application.status, application.reviewer) == ("approved", "analyst1")
        assert application.decided_at is not None and application.reason is None
        assert application.enterprise_uscc == uscc(1)
        assert session.get_one(Account, account_id).role == "member"
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        actions = [e.action for e in entries]
        assert actions[-5:] == [
            "membership.submit",
            "membership.start_review",
            "membership.approve",
            "account.role",
            "binding.verify",
        ]
        # Approval verifies the enterprise binding too: the licence was checked by staff.
        assert verified_uscc(session, session.get_one(Account, account_id)) == uscc(1)
        assert json.loads(entries[-1].after or "")["method"] == "membership"
        role_change = entries[-2]
        assert json.loads(role_change.before or "") == {"role": "enterprise"}
        assert json.loads(role_change.after or "")["role"] == "member"
        assert (role_change.actor, role_change.object_id) == ("analyst1", str(account_id))
        assert verify_chain(session) == []
        steps = membership.timeline(session, application_id)
        assert [s.label for s in steps] == ["提交申请", "开始审核", "批准入会"]
    subjects = [str(m["Subject"]) for m in mails(settings)]
    assert len(subjects) == 3 and all(str(m["To"]) == "xinghe@example.cn" for m in mails(settings))
    assert "已收到" in subjects[0] and "审核中" in subjects[1] and "已批准" in subjects[2]
    assert f"/members/applications/{application_id}" in mails(settings)[2].get_content()
    with pytest.raises(MembershipRefusedError, match="已是会员企业"):
        submit(settings, account_id)


def test_wrong_steps_are_refused_and_rejection_needs_a_reason(settings: Settings) -> None:
    account_id = enterprise(settings, "xinghe", None)  # no code on the account: any valid one
    application_id = submit(settings, account_id, form=form(enterprise_uscc=uscc(5)))
    with pytest.raises(MembershipRefusedError, match="请先点击“开始审核”"):
        step(settings, application_id, "approve")
    step(settings, application_id)
    with pytest.raises(MembershipRefusedError, match="该申请已在审核中"):
        step(settings, application_id)
    with pytest.raises(MembershipRefusedError, match="驳回须填写理由"):
        step(settings, application_id, "reject", "   ")
    with pytest.raises(MembershipRefusedError, match="请选择批准或驳回"):
        step(settings, application_id, "maybe")
    step(settings, application_id, "reject", "营业执照照片不清晰")
    with pytest.raises(MembershipRefusedError, match="该申请已驳回，不能再批准"):
        step(settings, application_id, "approve")
    with session_scope(settings.resolved_database_url) as session:
        application = session.get_one(MembershipApplication, application_id)
        assert (application.status, application.reason) == ("rejected", "营业执照照片不清晰")
        assert session.get_one(Account, account_id).role == "enterprise"
    rejection = mails(settings)[-1]
    assert "未获批准" in str(rejection["Subject"])
    assert "驳回理由：营业执照照片不清晰" in rejection.get_content()
    again = submit(settings, account_id, form=form(enterprise_uscc=uscc(5)))  # may apply again
    assert again != application_id


def test_only_enterprises_apply(settings: Settings) -> None:
    person = enterprise(settings, "zhang", None, role="individual")
    with pytest.raises(MembershipRefusedError, match="只有企业账号可以申请入会"):
        submit(settings, person)


def test_directory_lists_members_with_industry_and_district_names(settings: Settings) -> None:
    applicant = enterprise(settings, "xinghe", uscc(1))
    step(settings, submit(settings, applicant))
    waiting = enterprise(settings, "waiting", uscc(2))
    submit(
        settings, waiting, form=form(company_name="广州等待审核有限公司", enterprise_uscc=uscc(2))
    )
    seeded = enterprise(settings, "seeded", uscc(3), role="member")  # made by an administrator
    with session_scope(settings.resolved_database_url) as session:
        first = session.scalar(
            select(MembershipApplication).where(MembershipApplication.account_id == applicant)
        )
        assert first is not None
        membership.decide(session, settings, first, "approve", "", REVIEWER)
    with session_scope(settings.resolved_database_url) as session:
        system = system_in_force(session)
        found = membership.directory(session, system)
        assert [m.company_name for m in found.rows] == [
            "广州seeded科技有限公司",
            "广州星河科技有限公司",
        ]
        xinghe = found.rows[1]
        assert (xinghe.industry, xinghe.district, xinghe.contact_name) == (
            "智能网联与新能源汽车",
            "天河区",
            "李明",
        )
        assert [m.company_name for m in membership.directory(session, system, "星河").rows] == [
            "广州星河科技有限公司"
        ]
        assert membership.directory(session, system, "%").total == 0  # LIKE wildcards are text
        assert seeded
