"""快申 through the app: a policy asks for a value the platform does not hold; the enterprise
fills it in on its push page with an attachment, the policy office returns it once and verifies
it the second time, and only then is the push decided (amount, or not eligible)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from chanye.config import Settings
from chanye.registry.context import RegistryContext
from chanye.registry.importer import import_file
from chanye.store.audit import Actor
from chanye.store.database import session_scope
from chanye.store.models import AuditEntry
from tests.policy.test_workflow import EQUIPMENT as POLICY
from tests.policy.test_workflow import registry_rows
from tests.registry.factory import uscc, write_csv
from tests.web.signin import make_account, sign_in, sign_in_as

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def registry(settings: Settings, client: TestClient, tmp_path: Path) -> RegistryContext:
    context = RegistryContext.from_settings(settings)
    result = import_file(
        context.database_url,
        context.paths,
        context.system,
        write_csv(tmp_path / "registry.csv", registry_rows()),
        Actor("test", "analyst"),
    )
    assert result.exit_code == 0
    return context


def _publish(client: TestClient) -> str:
    sign_in_as(client, "policy_office")
    saved = client.post("/policies/drafts", data={"text": POLICY}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    draft = client.get(saved.headers["location"]).text
    assert "快申" in draft and "新设备购置额" in draft
    version = re.search(r'action="/policies/versions/(\d+)/publish"', draft)
    assert version
    sign_in_as(client, "policy_office")
    done = client.post(f"/policies/versions/{version.group(1)}/publish", follow_redirects=False)
    assert done.status_code == 303
    return version.group(1)


def _push_id(page: str) -> str:
    found = re.search(r'action="/my/applications/(\d+)"', page)
    assert found, "the push page has no application form"
    return found.group(1)


def _apply(client: TestClient, push: str, value: str, with_file: bool = True) -> httpx.Response:
    files = {"attachment": ("发票清单.pdf", PDF, "application/pdf")} if with_file else None
    return client.post(
        f"/my/applications/{push}", data={"value": value}, files=files, follow_redirects=False
    )


def _review(client: TestClient, decision: str, note: str = "") -> httpx.Response:
    queue = client.get("/policy-applications").text
    found = re.search(r'href="/policy-applications/(\d+)"', queue)
    assert found
    return client.post(
        f"/policy-applications/{found.group(1)}/review",
        data={"decision": decision, "note": note},
        follow_redirects=False,
    )


def test_the_enterprise_applies_staff_verify_and_only_then_it_is_decided(
    client: TestClient, settings: Settings, registry: RegistryContext
) -> None:
    enterprise = make_account(settings, "enterprise", enterprise_uscc=uscc(1))
    version = _publish(client)

    # Pushed as 待补充 with the form: the value the platform lacks, and what proves it.
    sign_in(client, enterprise)
    mine = client.get("/my/policies").text
    assert "待补充数据" in mine and "确认享受</button>" not in mine
    assert "新设备购置额（万元）" in mine and "上年度新购置生产设备的发票金额合计" in mine
    assert "附件：设备购置发票清单" in mine
    push = _push_id(mine)

    # Bad input is named field by field, and nothing is kept.
    refused = _apply(client, push, "很多", with_file=False)
    assert refused.status_code == 400
    assert "新设备购置额须为不小于 0 的数字（单位：万元），收到“很多”" in refused.text
    assert "请上传设备购置发票清单" in refused.text
    # Another enterprise cannot apply on this push: it does not exist for them.
    sign_in_as(client, "enterprise", enterprise_uscc=uscc(2))
    assert _apply(client, push, "800").status_code == 404

    sign_in(client, enterprise)
    assert _apply(client, push, "800").status_code == 303
    after = client.get("/my/policies").text
    assert "已提交，待核实" in after and f'action="/my/applications/{push}"' not in after
    assert _apply(client, push, "900").status_code == 400

    # The policy office returns it, with the reason (a reason is required).
    sign_in_as(client, "policy_office")
    detail = client.get("/policy-applications").text
    assert uscc(1) in detail and "已提交，待核实" in detail
    assert _review(client, "return").status_code == 409
    assert _review(client, "return", "发票合计与清单不符").status_code == 303

    sign_in(client, enterprise)
    returned = client.get("/my/policies").text
    assert "已退回补正" in returned and "发票合计与清单不符" in returned
    assert 'value="800.0"' in returned or 'value="800"' in returned  # what was sent stays
    assert _apply(client, push, "600").status_code == 303

    # Verified: decided with the value, 600万 × 10% = 60万.
    sign_in_as(client, "policy_office")
    queue = client.get("/policy-applications").text
    application = re.search(r'href="/policy-applications/(\d+)"', queue)
    assert application
    shown = client.get(f"/policy-applications/{application.group(1)}").text
    assert "600万元" in shown and "设备购置发票清单" in shown
    document = re.search(r'href="(/policy-applications/\d+/documents/\d+)"', shown)
    assert document and client.get(document.group(1)).content == PDF
    verified = _review(client, "verify")
    assert verified.status_code == 303
    decided = client.get(verified.headers["location"]).text
    assert "已核实" in decided and 'id="push-amount">60万元<' in decided

    sign_in(client, enterprise)
    ready = client.get("/my/policies").text
    assert "60万元" in ready and "确认享受</button>" in ready
    confirm = re.search(r'action="/my/policies/(\d+)/confirm"', ready)
    assert confirm
    assert client.post(f"/my/policies/{confirm.group(1)}/confirm").status_code in (200, 303)

    # A second enterprise applies with too little: verified, and then not eligible.
    second = make_account(settings, "enterprise", enterprise_uscc=uscc(2))
    sign_in(client, second)
    assert _apply(client, _push_id(client.get("/my/policies").text), "300").status_code == 303
    sign_in_as(client, "policy_office")
    assert _review(client, "verify").status_code == 303
    sign_in(client, second)
    assert "已撤回（不再符合条件）" in client.get("/my/policies").text

    # Matching again keeps both decisions: the verified values are read again.
    sign_in_as(client, "policy_office")
    assert client.post(f"/policies/versions/{version}/run").status_code in (200, 303)
    sign_in(client, enterprise)
    assert "已确认享受" in client.get("/my/policies").text
    sign_in(client, second)
    assert "已撤回（不再符合条件）" in client.get("/my/policies").text

    with session_scope(registry.database_url) as db:
        actions = {a.action for a in db.query(AuditEntry)}
    assert {
        "policy.application.submit",
        "policy.application.return",
        "policy.application.verify",
        "policy.application.document_read",
    } <= actions
