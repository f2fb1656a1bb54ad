"""企业绑定 through the app: a USCC typed at registration opens nothing of the enterprise; staff
verification from the uploaded licence and authorisation letter opens it; the enterprise's
administrator invites and removes its other accounts; staff revoke. Everything is audited."""

from __future__ import annotations

import json
import re
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from chanye.config import Settings
from chanye.portal.binding import verified_uscc
from chanye.registry.context import RegistryContext
from chanye.store.database import session_scope
from chanye.store.models import (
    Account,
    AuditEntry,
    BindingDocument,
    EnterpriseBinding,
    PolicyPush,
)
from tests.portal.test_documents import EXE, PDF, png
from tests.registry.factory import uscc
from tests.web.signin import make_account, sign_in, sign_in_as
from tests.web.test_policy_pages import publish, registry

__all__ = ["registry"]  # the fixture: enterprises 1–6 in the registry

FIRM = uscc(1)  # eligible for the test policy's 300,000 元


def mails(settings: Settings) -> list[EmailMessage]:
    found = [
        message_from_bytes(p.read_bytes(), policy=default)
        for p in sorted(settings.outbox_dir.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    ]
    return found  # type: ignore[return-value]


def push_of(client: TestClient) -> str:
    """As the policy office: publish the test policy; the id of enterprise 1's push."""
    publish(client)
    settings: Settings = client.app.state.settings
    with session_scope(settings.resolved_database_url) as db:
        push = db.scalar(select(PolicyPush).where(PolicyPush.uscc == FIRM))
        assert push is not None
        return str(push.id)


def sees_the_enterprise(client: TestClient, push_id: str) -> bool:
    """Whether this account reaches anything of enterprise 1; all or nothing."""
    page = client.get(f"/registry/enterprises/{FIRM}").status_code
    api = client.get(f"/api/registry/enterprises/{FIRM}").status_code
    mine = client.get("/my/policies").text
    listed = f'data-push="{push_id}"' in mine
    assert {page, api} <= {200, 404} and len({page, api}) == 1, (page, api)
    assert (page == 200) == listed, "the record and the pushes open together"
    return page == 200


def upload(client: TestClient, **files: tuple[str, bytes, str]) -> httpx.Response:
    return client.post("/account/binding/documents", files=files, follow_redirects=False)


LICENCE = ("营业执照.pdf", PDF, "application/pdf")
LETTER = ("授权委托书.png", png(), "image/png")


def test_an_impostor_sees_nothing_until_staff_verify_its_documents(
    client: TestClient, settings: Settings, registry: RegistryContext
) -> None:
    push_id = push_of(client)
    impostor = make_account(settings, "enterprise", verified=False, enterprise_uscc=FIRM)
    sign_in(client, impostor)

    # Registered with the firm's USCC: nothing of the firm opens, nor can it act on the push.
    assert not sees_the_enterprise(client, push_id)
    mine = client.get("/my/policies").text
    assert 'id="binding-unverified"' in mine and "/account/binding" in mine
    for act in ("confirm", "decline"):
        assert client.post(f"/my/policies/{push_id}/{act}").status_code == 404
    profile = client.get("/account").text
    assert 'id="binding-state" data-state="pending">待核验' in profile
    page = client.get("/account/binding").text
    assert 'id="documents-form"' in page and "授权委托书" in page
    assert 'id="oidc-form"' not in page  # no identity provider configured here

    # It uploads the licence and the authorisation letter; still nothing opens.
    done = upload(client, licence=LICENCE, authorisation=LETTER)
    assert done.status_code == 303
    waiting = client.get("/account/binding?done=submitted").text
    assert 'id="documents-waiting"' in waiting and "核验材料已提交" in waiting
    assert not sees_the_enterprise(client, push_id)
    assert upload(client, licence=LICENCE, authorisation=LETTER).status_code == 400

    # An analyst finds it in the queue, opens the documents, and approves.
    analyst = make_account(settings, "analyst")
    sign_in(client, analyst)
    queue = client.get("/bindings").text
    binding_id = re.search(rf'data-binding="(\d+)" data-uscc="{FIRM}"', queue)
    assert binding_id, queue
    detail = client.get(f"/bindings/{binding_id.group(1)}").text
    links = re.findall(rf'href="(/bindings/{binding_id.group(1)}/documents/\d+)"', detail)
    assert len(links) == 2 and "营业执照" in detail and "授权委托书" in detail
    downloads = {client.get(link).headers["content-type"] for link in links}
    assert downloads == {"application/pdf", "image/png"}
    refused = client.post(f"/bindings/{binding_id.group(1)}/decide", data={"decision": "reject"})
    assert refused.status_code == 400 and "驳回须填写理由" in refused.text
    approved = client.post(
        f"/bindings/{binding_id.group(1)}/decide",
        data={"decision": "approve"},
        follow_redirects=False,
    )
    assert approved.status_code == 303
    again = client.post(f"/bindings/{binding_id.group(1)}/decide", data={"decision": "approve"})
    assert again.status_code == 409

    # Now the firm opens to the account, which can act on its push; it was told by e-mail.
    sign_in(client, impostor)
    assert sees_the_enterprise(client, push_id)
    page = client.get("/account/binding").text
    assert 'data-state="verified">已核验' in page and "企业管理员" in page
    assert "工作人员核验材料" in page
    told = [m for m in mails(settings) if m["To"] == impostor.email]
    assert any("企业绑定已核验" in str(m["Subject"]) for m in told)
    confirmed = client.post(f"/my/policies/{push_id}/confirm", follow_redirects=False)
    assert confirmed.status_code == 303

    with session_scope(settings.resolved_database_url) as db:
        audited = [(a.action, a.actor, a.result) for a in db.scalars(select(AuditEntry))]
    assert ("policy.push.confirm", impostor.username, "refused") in audited
    assert ("binding.submit", impostor.username, "success") in audited
    assert ("binding.document_read", analyst.username, "success") in audited
    assert ("binding.approve", analyst.username, "success") in audited
    assert ("policy.push.confirm", impostor.username, "success") in audited


def test_documents_are_checked_and_a_rejection_says_why(
    client: TestClient, settings: Settings
) -> None:
    applicant = sign_in_as(client, "enterprise", verified=False, enterprise_uscc=uscc(7))
    missing = upload(client, licence=LICENCE)
    assert missing.status_code == 400 and "请上传授权委托书" in missing.text
    wrong = upload(client, licence=("执照.pdf", EXE, "application/pdf"), authorisation=LETTER)
    assert wrong.status_code == 400 and "不是 PDF、JPG 或 PNG 文件" in wrong.text
    with session_scope(settings.resolved_database_url) as db:  # nothing half-written
        assert db.scalar(select(func.count()).select_from(BindingDocument)) == 0
        assert db.scalar(select(func.count()).select_from(EnterpriseBinding)) == 0
    assert not list((settings.uploads_dir / "bindings").glob("*"))

    assert upload(client, licence=LICENCE, authorisation=LETTER).status_code == 303
    sign_in_as(client, "analyst")
    with session_scope(settings.resolved_database_url) as db:
        binding_id = db.scalars(select(EnterpriseBinding.id)).one()
    rejected = client.post(
        f"/bindings/{binding_id}/decide",
        follow_redirects=False,
        data={"decision": "reject", "reason": "授权委托书没有法定代表人签字"},
    )
    assert rejected.status_code == 303
    (mail,) = [m for m in mails(settings) if m["To"] == applicant.email]
    assert "未通过核验" in str(mail["Subject"]) and "没有法定代表人签字" in mail.get_content()

    sign_in(client, applicant)
    page = client.get("/account/binding").text
    assert 'data-state="rejected">已驳回' in page and "没有法定代表人签字" in page
    assert upload(client, licence=LICENCE, authorisation=LETTER).status_code == 303
    assert 'data-state="pending"' in client.get("/account/binding").text


def test_the_administrator_invites_and_removes_accounts_of_its_enterprise(
    client: TestClient, settings: Settings, registry: RegistryContext
) -> None:
    push_id = push_of(client)
    admin = make_account(settings, "enterprise", enterprise_uscc=FIRM)  # verified: the first
    second = make_account(settings, "enterprise", verified=False, enterprise_uscc=FIRM)
    stranger = make_account(settings, "enterprise", verified=False, enterprise_uscc=uscc(2))

    # A second account claiming the bound USCC gets no access of its own accord.
    sign_in(client, second)
    assert not sees_the_enterprise(client, push_id)
    assert "如何核验" in client.get("/account/binding").text
    refused = client.post("/account/binding/invite", data={"invitee": admin.username})
    assert refused.status_code == 409 and "只有本企业已核验的企业管理员" in refused.text

    sign_in(client, admin)
    page = client.get("/account/binding").text
    assert 'id="invite-form"' in page and "企业管理员" in page
    other = client.post("/account/binding/invite", data={"invitee": stranger.email})
    assert other.status_code == 409 and "没有找到以本企业统一社会信用代码" in other.text
    invited = client.post(
        "/account/binding/invite", data={"invitee": second.email.upper()}, follow_redirects=False
    )
    assert invited.status_code == 303
    page = client.get("/account/binding").text
    row = re.search(rf'data-binding="(\d+)" data-username="{second.username}"', page)
    assert row and "经办人" in page and "企业管理员邀请" in page
    again = client.post("/account/binding/invite", data={"invitee": second.username})
    assert again.status_code == 409 and "已绑定本企业" in again.text

    sign_in(client, second)
    assert sees_the_enterprise(client, push_id)
    assert 'id="invite-form"' not in client.get("/account/binding").text
    assert client.post(f"/account/binding/members/{row.group(1)}/remove").status_code == 409

    sign_in(client, admin)
    removed = client.post(f"/account/binding/members/{row.group(1)}/remove", follow_redirects=False)
    assert removed.status_code == 303
    own = re.search(
        rf'data-binding="(\d+)" data-username="{admin.username}"',
        client.get("/account/binding").text,
    )
    assert own
    assert client.post(f"/account/binding/members/{own.group(1)}/remove").status_code == 409

    sign_in(client, second)
    assert not sees_the_enterprise(client, push_id)
    assert 'data-state="revoked">已解除' in client.get("/account/binding").text
    assert any(
        "企业绑定已解除" in str(m["Subject"]) for m in mails(settings) if m["To"] == second.email
    )
    with session_scope(settings.resolved_database_url) as db:
        revoked = db.scalars(select(AuditEntry).where(AuditEntry.action == "binding.revoke")).one()
        assert revoked.actor == admin.username
        assert json.loads(revoked.after or "")["state"] == "revoked"
        invite = db.scalars(select(AuditEntry).where(AuditEntry.action == "binding.invite")).one()
        assert json.loads(invite.after or "")["method"] == "invitation"


def test_staff_revoke_and_the_next_account_takes_over(
    client: TestClient, settings: Settings
) -> None:
    admin = make_account(settings, "enterprise", enterprise_uscc=uscc(8))
    member = make_account(settings, "member", enterprise_uscc=uscc(8))  # verified second
    sign_in_as(client, "analyst")
    with session_scope(settings.resolved_database_url) as db:
        admins = db.scalars(
            select(EnterpriseBinding).where(EnterpriseBinding.account_id == admin.id)
        ).one()
        assert admins.enterprise_role == "administrator"
        binding_id = admins.id
    verified_page = client.get("/bindings?state=verified").text
    assert f'data-binding="{binding_id}"' in verified_page
    no_reason = client.post(f"/bindings/{binding_id}/revoke", data={"reason": " "})
    assert no_reason.status_code == 400 and "解除须填写理由" in no_reason.text
    done = client.post(
        f"/bindings/{binding_id}/revoke", data={"reason": "已离职"}, follow_redirects=False
    )
    assert done.status_code == 303
    assert client.post(f"/bindings/{binding_id}/revoke", data={"reason": "x"}).status_code == 409
    with session_scope(settings.resolved_database_url) as db:
        assert verified_uscc(db, db.get_one(Account, admin.id)) is None
        successor = db.scalars(
            select(EnterpriseBinding).where(EnterpriseBinding.account_id == member.id)
        ).one()
        assert successor.enterprise_role == "administrator"
        actions = [a.action for a in db.scalars(select(AuditEntry).order_by(AuditEntry.id))]
        assert actions[-2:] == ["binding.revoke", "binding.promote"]


def test_accounts_that_cannot_bind_are_told_so(client: TestClient, settings: Settings) -> None:
    sign_in_as(client, "enterprise")  # no USCC
    assert 'id="no-uscc"' in client.get("/account/binding").text
    assert upload(client, licence=LICENCE, authorisation=LETTER).status_code == 400
    assert client.get("/account/binding/oidc").status_code == 404  # no identity provider
    sign_in_as(client, "individual")
    assert client.get("/account/binding").status_code == 403
    sign_in_as(client, "investment")
    assert client.get("/bindings").status_code == 403
    assert client.get("/bindings/1").status_code == 403


def test_registration_says_the_binding_must_be_verified(client: TestClient) -> None:
    page = client.get("/register").text
    assert 'id="binding-notice"' in page and "核验通过前看不到该企业的任何信息" in page
