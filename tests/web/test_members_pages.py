"""会员 pages through the app: applying with documents, reviewing, downloading, the directory."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from chanye.config import Settings
from chanye.store.database import session_scope
from chanye.store.migrate import upgrade
from chanye.store.models import Account, AuditEntry, MembershipApplication, MembershipDocument
from chanye.web.app import create_app
from tests.portal.test_documents import EXE, PDF, png
from tests.registry.factory import uscc
from tests.web.signin import make_account, sign_in

FIELDS = {
    "company_name": "广州星河科技有限公司",
    "legal_representative": "王强",
    "industry_id": "icv-nev",
    "district": "440106",
    "address": "广州市天河区科韵路 1 号",
    "contact_name": "李明",
    "contact_mobile": "13800138000",
    "contact_email": "liming@xinghe.example",
    "introduction": "动力电池管理系统",
}


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    settings = Settings(data_dir=tmp_path / "data", max_document_mb=1, warm_up=False)
    settings.ensure_data_dir()
    upgrade(settings.resolved_database_url)
    return create_app(settings)


@pytest.fixture
def clients(app: FastAPI) -> Iterator[list[TestClient]]:
    """Separate browsers (cookie jars) on the same app; closed at the end."""
    opened: list[TestClient] = []
    yield opened
    for client in opened:
        client.close()


def browser(app: FastAPI, clients: list[TestClient]) -> TestClient:
    client = TestClient(app, base_url="https://testserver.local")
    clients.append(client.__enter__())
    return client


def person(
    app: FastAPI, clients: list[TestClient], role: str, **kw: Any
) -> tuple[TestClient, Account]:
    client = browser(app, clients)
    account = make_account(app.state.settings, role, **kw)
    sign_in(client, account)
    return client, account


def settings_of(app: FastAPI) -> Settings:
    settings: Settings = app.state.settings
    return settings


def apply(
    client: TestClient, code: str, files: list[tuple[str, tuple[str, bytes, str]]], **changes: str
) -> Any:
    return client.post(
        "/members/apply",
        data={**FIELDS, "enterprise_uscc": code, **changes},
        files=files,
        follow_redirects=False,
    )


def outbox(app: FastAPI, to: str) -> list[EmailMessage]:
    found = sorted(settings_of(app).outbox_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    messages = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in found]
    return [m for m in messages if str(m["To"]) == to]


def stored(app: FastAPI) -> tuple[int, int, list[str]]:
    settings = settings_of(app)
    with session_scope(settings.resolved_database_url) as session:
        applications = session.scalar(select(func.count()).select_from(MembershipApplication))
        docs = session.scalar(select(func.count()).select_from(MembershipDocument))
    folder = settings.uploads_dir / "membership"
    files = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    return applications or 0, docs or 0, files


def application_id(response: Any) -> int:
    assert response.status_code == 303, response.text
    match = re.fullmatch(
        r"/members/applications/(\d+)\?done=submitted", response.headers["location"]
    )
    assert match, response.headers["location"]
    return int(match.group(1))


def test_apply_review_approve_and_the_directory(app: FastAPI, clients: list[TestClient]) -> None:
    applicant, account = person(app, clients, "enterprise", enterprise_uscc=uscc(1))
    form = applicant.get("/members/apply")
    assert form.status_code == 200
    assert f'value="{account.display_name}"' in form.text and f'value="{uscc(1)}"' in form.text
    assert "<label" in form.text and 'name="licence"' in form.text and "提交申请" in form.text
    image = png()
    number = application_id(
        apply(
            applicant,
            uscc(1),
            [
                ("licence", ("营业执照.pdf", PDF, "application/pdf")),
                ("others", ("C:\\扫描件\\资质.pdf", image, "application/pdf")),  # a PNG named .pdf
            ],
        )
    )
    page = applicant.get(f"/members/applications/{number}?done=submitted")
    assert re.search(r'id="application-status"[^>]*>已提交<', page.text)
    assert "资质.pdf" in page.text and "扫描件" not in page.text and "PNG 图片" in page.text
    _apps, _docs, files = stored(app)
    assert sorted(Path(f).suffix for f in files) == [".pdf", ".png"]
    assert "已收到" in str(outbox(app, account.email)[-1]["Subject"])

    reviewer, _analyst = person(app, clients, "analyst")
    queue = reviewer.get("/members/review")
    assert (
        queue.status_code == 200
        and "广州星河科技有限公司" in queue.text
        and "开始审核" in queue.text
    )
    with session_scope(settings_of(app).resolved_database_url) as session:
        png_doc = session.scalar(
            select(MembershipDocument).where(MembershipDocument.kind == "other")
        )
        assert png_doc is not None
    download = reviewer.get(f"/members/applications/{number}/documents/{png_doc.id}")
    assert download.status_code == 200 and download.content == image
    assert download.headers["content-type"] == "image/png"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert hashlib.sha256(download.content).hexdigest() == png_doc.sha256

    assert (
        reviewer.post(f"/members/applications/{number}/review", follow_redirects=False).status_code
        == 303
    )
    assert "审核中" in str(outbox(app, account.email)[-1]["Subject"])
    review_page = reviewer.get(f"/members/applications/{number}")
    assert "批准" in review_page.text and "驳回" in review_page.text
    approved = reviewer.post(f"/members/applications/{number}/decide", data={"decision": "approve"})
    assert approved.status_code == 200 and re.search(
        r'id="application-status"[^>]*>已批准<', approved.text
    )
    with session_scope(settings_of(app).resolved_database_url) as session:
        assert session.get_one(Account, account.id).role == "member"
        change = session.scalar(select(AuditEntry).where(AuditEntry.action == "account.role"))
        assert change is not None and '"enterprise"' in (change.before or "")
    mail = outbox(app, account.email)[-1]
    assert "已批准" in str(mail["Subject"]) and "已批准" in mail.get_content()

    directory = applicant.get("/members/directory")  # the applicant is a member now
    assert directory.status_code == 200
    assert "广州星河科技有限公司" in directory.text and "智能网联与新能源汽车" in directory.text
    assert (
        "天河区" in directory.text
        and "李明" in directory.text
        and "13800138000" not in directory.text
    )
    staff_view = reviewer.get("/members/directory", params={"q": "星河"})
    assert "13800138000" in staff_view.text and "liming@xinghe.example" in staff_view.text
    assert "广州星河" not in reviewer.get("/members/directory", params={"q": "没有这家"}).text
    again = applicant.get("/members/apply")
    assert again.status_code == 200 and "您已是会员企业" in again.text


def test_disguised_program_is_refused_and_nothing_is_kept(
    app: FastAPI, clients: list[TestClient]
) -> None:
    applicant, _account = person(app, clients, "enterprise", enterprise_uscc=uscc(2))
    refused = apply(
        applicant,
        uscc(2),
        [
            ("licence", ("营业执照.pdf", PDF, "application/pdf")),
            ("others", ("setup.pdf", EXE, "application/pdf")),
        ],
    )
    assert refused.status_code == 400
    assert "“setup.pdf”不是 PDF、JPG 或 PNG 文件" in refused.text
    assert 'value="广州星河科技有限公司"' in refused.text  # what was typed is kept
    assert stored(app) == (0, 0, [])


def test_oversized_and_empty_files_are_refused(app: FastAPI, clients: list[TestClient]) -> None:
    applicant, _account = person(app, clients, "enterprise", enterprise_uscc=uscc(3))
    big = PDF + b"0" * (1 << 20)  # the limit in these tests is 1 MB
    refused = apply(
        applicant,
        uscc(3),
        [
            ("licence", ("big.pdf", big, "application/pdf")),
            ("others", ("空.pdf", b"", "application/pdf")),
        ],
    )
    assert refused.status_code == 400
    assert "“big.pdf”超过 1 MB 上限" in refused.text and "“空.pdf”是空文件" in refused.text
    assert stored(app) == (0, 0, [])
    missing = apply(applicant, uscc(3), [])
    assert missing.status_code == 400 and "请上传营业执照" in missing.text
    huge = apply(applicant, uscc(3), [("licence", ("huge.pdf", PDF + b"0" * (7 << 20), "a/b"))])
    assert huge.status_code == 413  # above the request cap: refused before anything reads it
    assert stored(app) == (0, 0, [])


def test_every_field_problem_at_once(app: FastAPI, clients: list[TestClient]) -> None:
    applicant, _account = person(app, clients, "enterprise", enterprise_uscc=uscc(4))
    refused = apply(
        applicant,
        uscc(5),
        [("licence", ("a.pdf", PDF, "application/pdf"))],
        company_name="",
        industry_id="nope",
        contact_mobile="123",
        contact_email="x",
    )
    assert refused.status_code == 400
    for text in (
        "请填写企业名称",
        "须与本账号登记的",
        "所属产业不在现行产业体系中",
        "11 位中国大陆手机号",
        "联系人电子邮箱格式不正确",
    ):
        assert text in refused.text, text
    # The code field is read-only for an account with a code: it shows the one it must be.
    assert f'value="{uscc(4)}"' in refused.text and f'value="{uscc(5)}"' not in refused.text
    assert stored(app) == (0, 0, [])


def test_rejection_needs_a_reason_and_wrong_steps_are_refused(
    app: FastAPI, clients: list[TestClient]
) -> None:
    applicant, account = person(app, clients, "enterprise", enterprise_uscc=uscc(6))
    number = application_id(apply(applicant, uscc(6), [("licence", ("a.jpg", PDF, "image/jpeg"))]))
    again = applicant.get("/members/apply")
    assert "申请正在处理中" in again.text and f"/members/applications/{number}" in again.text
    reviewer, _analyst = person(app, clients, "analyst")
    early = reviewer.post(f"/members/applications/{number}/decide", data={"decision": "approve"})
    assert early.status_code == 409 and "请先点击“开始审核”" in early.text
    reviewer.post(f"/members/applications/{number}/review")
    no_reason = reviewer.post(f"/members/applications/{number}/decide", data={"decision": "reject"})
    assert no_reason.status_code == 400 and "驳回须填写理由" in no_reason.text
    asked = reviewer.post(
        f"/members/applications/{number}/decide",
        data={"decision": "reject", "reason": "营业执照已过期"},
    )
    assert "将驳回" in asked.text and 'value="营业执照已过期"' in asked.text  # asked, not done
    still = reviewer.get(f"/members/applications/{number}").text
    assert re.search(r'id="application-status"[^>]*>审核中<', still)
    rejected = reviewer.post(
        f"/members/applications/{number}/decide",
        data={"decision": "reject", "reason": "营业执照已过期", "confirmed": "yes"},
    )
    assert re.search(r'id="application-status"[^>]*>已驳回<', rejected.text)
    late = reviewer.post(f"/members/applications/{number}/decide", data={"decision": "approve"})
    assert late.status_code == 409 and "该申请已驳回，不能再批准" in late.text
    mail = outbox(app, account.email)[-1]
    assert "营业执照已过期" in mail.get_content()
    own = applicant.get(f"/members/applications/{number}")
    assert "营业执照已过期" in own.text and "重新申请" in own.text
    retry = applicant.get("/members/apply")  # the rejected application's answers, to correct
    assert retry.status_code == 200 and 'value="王强"' in retry.text
    assert '<option value="icv-nev" selected>' in retry.text


def test_others_cannot_see_an_application_or_its_documents(
    app: FastAPI, clients: list[TestClient]
) -> None:
    applicant, _account = person(app, clients, "enterprise", enterprise_uscc=uscc(8))
    number = application_id(
        apply(applicant, uscc(8), [("licence", ("a.pdf", PDF, "application/pdf"))])
    )
    with session_scope(settings_of(app).resolved_database_url) as session:
        doc_id = session.scalar(select(MembershipDocument.id))
    own = applicant.get(f"/members/applications/{number}/documents/{doc_id}")
    assert own.status_code == 200 and own.content == PDF
    assert own.headers["content-type"] == "application/pdf"
    other, _ = person(app, clients, "enterprise", enterprise_uscc=uscc(9))
    assert other.get(f"/members/applications/{number}").status_code == 404
    assert other.get(f"/members/applications/{number}/documents/{doc_id}").status_code == 404
    investment, _ = person(app, clients, "investment")  # staff, but not a reviewer
    assert investment.get(f"/members/applications/{number}/documents/{doc_id}").status_code == 404
    assert other.post(f"/members/applications/{number}/review").status_code == 403
    anonymous = browser(app, clients)
    bounced = anonymous.get(f"/members/applications/{number}", follow_redirects=False)
    assert bounced.status_code == 303 and bounced.headers["location"].startswith("/login?next=")


def test_who_reaches_the_directory_and_the_apply_form(
    app: FastAPI, clients: list[TestClient]
) -> None:
    anonymous = browser(app, clients)
    for path in ("/members/directory", "/members/apply"):
        bounced = anonymous.get(path, follow_redirects=False)
        assert bounced.status_code == 303 and bounced.headers["location"] == f"/login?next={path}"
    area = anonymous.get("/members")
    assert area.status_code == 200 and "登录后申请入会" in area.text
    enterprise, _ = person(app, clients, "enterprise", enterprise_uscc=uscc(10))
    assert enterprise.get("/members/directory").status_code == 403
    assert 'id="apply-link"' in enterprise.get("/members").text
    member, _ = person(app, clients, "member", enterprise_uscc=uscc(11))
    assert member.get("/members/directory").status_code == 200
    assert 'id="directory-link"' in member.get("/members").text
    individual, _ = person(app, clients, "individual")
    assert individual.get("/members/apply").status_code == 403
    staff, _ = person(app, clients, "chain_leader")
    assert staff.get("/members/directory").status_code == 200
    assert staff.get("/members/review").status_code == 403
