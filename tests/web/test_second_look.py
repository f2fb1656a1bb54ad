"""A second look through the app: 双人复核 of a policy with a benefit, asking before a step that
cannot be taken back (stopping a policy, publishing over one, declining a push), and the pushes
nobody receives listed and mailed to the policy office (线下通知)."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

from fastapi.testclient import TestClient
from sqlalchemy import select

from chanye.config import Settings
from chanye.registry.context import RegistryContext
from chanye.store.database import session_scope
from chanye.store.models import AuditEntry, PolicyPush, PolicyVersion
from tests.policy.test_workflow import POLICY
from tests.registry.factory import uscc
from tests.web.signin import make_account, sign_in, sign_in_as
from tests.web.test_policy_pages import registry  # noqa: F401  (a fixture)

NO_BENEFIT = POLICY.split("benefit:")[0].replace("id: test-rd-reward", "id: test-rd-list")


def _draft(client: TestClient, text: str = POLICY) -> int:
    saved = client.post("/policies/drafts", data={"text": text}, follow_redirects=False)
    assert saved.status_code == 303
    found = re.search(
        r'action="/policies/versions/(\d+)/publish"', client.get(saved.headers["location"]).text
    )
    assert found
    return int(found.group(1))


def _audited(settings: Settings, action: str) -> list[tuple[str, str]]:
    with session_scope(settings.resolved_database_url) as db:
        rows = db.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()
        return [(a.actor, a.result) for a in rows]


def _mails(settings: Settings) -> list[EmailMessage]:
    return [
        message_from_bytes(p.read_bytes(), policy=default)  # type: ignore[misc]
        for p in settings.outbox_dir.glob("*.eml")
    ]


def test_a_benefit_needs_a_second_person(
    client: TestClient,
    settings: Settings,
    registry: RegistryContext,  # noqa: F811
) -> None:
    drafter = sign_in_as(client, "policy_office")
    version_id = _draft(client)
    page = client.get("/policies/test-rd-reward?version=1").text
    assert "复核并发布" in page and "您是起草人" in page
    refused = client.post(f"/policies/versions/{version_id}/publish")
    assert refused.status_code == 409
    assert "双人复核" in refused.text and "起草人不能复核自己起草的版本" in refused.text
    assert _audited(settings, "policy.approve") == [(drafter.username, "refused")]
    with session_scope(settings.resolved_database_url) as db:
        assert db.get_one(PolicyVersion, version_id).status == "draft"

    reviewer = sign_in_as(client, "policy_office")
    assert (
        f"由 {drafter.display_name} 起草" in client.get("/policies/test-rd-reward?version=1").text
    )
    done = client.post(f"/policies/versions/{version_id}/publish", follow_redirects=False)
    assert done.status_code == 303
    with session_scope(settings.resolved_database_url) as db:
        version = db.get_one(PolicyVersion, version_id)
        assert (version.status, version.approved_by) == ("published", reviewer.username)
    assert _audited(settings, "policy.approve")[-1] == (reviewer.username, "success")
    assert "复核：" + reviewer.display_name in client.get("/policies/manage").text

    # A policy that pays nothing needs no second person.
    sign_in(client, drafter)
    plain = _draft(client, NO_BENEFIT)
    assert (
        client.post(f"/policies/versions/{plain}/publish", follow_redirects=False).status_code
        == 303
    )


def test_stopping_and_publishing_over_a_policy_ask_first(
    client: TestClient,
    settings: Settings,
    registry: RegistryContext,  # noqa: F811
) -> None:
    sign_in_as(client, "policy_office")
    first = _draft(client)
    sign_in_as(client, "policy_office")
    client.post(f"/policies/versions/{first}/publish")
    second = _draft(client, POLICY.replace("rate: 0.1", "rate: 0.2"))
    sign_in_as(client, "policy_office")
    asked = client.post(f"/policies/versions/{second}/publish")
    assert asked.status_code == 200 and 'id="consequence"' in asked.text
    assert "发布第 2 版后，“测试研发投入奖励”第 1 版将失效：撤回 4 条待确认推送" in asked.text
    with session_scope(settings.resolved_database_url) as db:
        assert db.get_one(PolicyVersion, first).status == "published"  # nothing done yet

    published = client.post(
        f"/policies/versions/{second}/publish", data={"confirmed": "yes"}, follow_redirects=False
    )
    assert published.status_code == 303
    asked = client.post(f"/policies/versions/{second}/expire")
    assert "将停止执行“测试研发投入奖励”第 2 版：撤回 4 条待确认推送" in asked.text
    assert "已确认享受的 0 条保留在拨付清单中" in asked.text
    stopped = client.post(f"/policies/versions/{second}/expire", data={"confirmed": "yes"})
    assert stopped.status_code == 200 and "已停止执行" in stopped.text
    with session_scope(settings.resolved_database_url) as db:
        assert db.get_one(PolicyVersion, second).status == "expired"
        statuses = db.scalars(
            select(PolicyPush.status).where(PolicyPush.policy_version_id == second)
        )
        assert set(statuses) == {"withdrawn"}
    assert _audited(settings, "policy.expire")[-1][1] == "success"
    again = client.post(f"/policies/versions/{second}/expire", data={"confirmed": "yes"})
    assert again.status_code == 409 and "只能停止执行已发布的版本" in again.text


def test_declining_asks_first_and_only_the_enterprise_is_asked(
    client: TestClient,
    settings: Settings,
    registry: RegistryContext,  # noqa: F811
) -> None:
    owner = make_account(settings, "enterprise", enterprise_uscc=uscc(1))
    sign_in_as(client, "policy_office")
    version_id = _draft(client)
    sign_in_as(client, "policy_office")
    client.post(f"/policies/versions/{version_id}/publish")
    with session_scope(settings.resolved_database_url) as db:
        push_id = db.scalars(select(PolicyPush.id).where(PolicyPush.uscc == uscc(1))).one()

    sign_in_as(client, "enterprise", enterprise_uscc=uscc(2))  # not its push: like a missing one
    assert client.post(f"/my/policies/{push_id}/decline").status_code == 404
    sign_in(client, owner)
    asked = client.post(f"/my/policies/{push_id}/decline")
    assert asked.status_code == 200
    assert "将放弃“测试研发投入奖励”（30万元）：放弃后不能再确认享受" in asked.text
    assert 'data-status="pushed"' in client.get("/my/policies").text
    declined = client.post(
        f"/my/policies/{push_id}/decline", data={"confirmed": "yes"}, follow_redirects=False
    )
    assert declined.status_code == 303
    assert 'data-status="declined"' in client.get("/my/policies").text


def test_pushes_nobody_receives_are_listed_and_mailed_to_the_policy_office(
    client: TestClient,
    settings: Settings,
    registry: RegistryContext,  # noqa: F811
) -> None:
    make_account(settings, "enterprise", enterprise_uscc=uscc(1))  # 1 can receive; 2, 3, 6 cannot
    office = sign_in_as(client, "policy_office")
    version_id = _draft(client)
    sign_in_as(client, "policy_office")
    client.post(f"/policies/versions/{version_id}/publish")

    manage = client.get("/policies/manage").text
    listed = re.findall(
        r'<tr data-offline-push="(\d+)">\s*<td>[^<]*</td>\s*<td>[^<]*</td>\s*<td class="mono">(\w+)<',
        manage,
    )
    assert sorted(u for _, u in listed) == sorted([uscc(2), uscc(3), uscc(6)])
    office_mails = [m for m in _mails(settings) if "请线下通知" in m["Subject"]]
    assert {m["To"] for m in office_mails} >= {office.email}
    body = office_mails[0].get_body().get_content()
    assert "3 家企业收不到" in office_mails[0]["Subject"]
    assert uscc(2) in body and uscc(1) not in body and "/policies/manage#offline" in body
    assert _audited(settings, "policy.notify_office")

    push_id = next(p for p, u in listed if u == uscc(2))
    noted = client.post(f"/policies/pushes/{push_id}/offline-notice", follow_redirects=False)
    assert noted.status_code == 303
    after = client.get(noted.headers["location"]).text
    assert "已登记线下通知" in after and f'data-offline-push="{push_id}"' not in after
    assert _audited(settings, "policy.push.offline_notice")[-1][1] == "success"
    assert client.post(f"/policies/pushes/{push_id}/offline-notice").status_code == 409
