"""政策 pages through the app: the library, a manager's upload → publish → disbursement, an
enterprise's confirm and decline, and the staff's simulation, near misses and explanations."""

from __future__ import annotations

import io
import re
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from chanye.config import Settings
from chanye.registry.context import RegistryContext
from chanye.registry.importer import import_file
from chanye.store.audit import Actor
from chanye.store.database import session_scope
from chanye.store.models import AuditEntry
from tests.policy.test_workflow import POLICY, RD, registry_rows
from tests.registry.factory import row, uscc, write_csv
from tests.web.signin import make_account, sign_in, sign_in_as


@pytest.fixture
def registry(settings: Settings, client: TestClient, tmp_path: Path) -> RegistryContext:
    """Enterprises 1–5 (see registry_rows) and 6, a high-tech firm in 黄埔 outside icv-nev."""
    context = RegistryContext.from_settings(settings)
    rows = [
        *registry_rows(),
        row(6, **{RD: "400", "行业代码": "7310", "经营范围": "咨询服务", "所属区": "黄埔区"}),
    ]
    result = import_file(
        context.database_url,
        context.paths,
        context.system,
        write_csv(tmp_path / "registry.csv", rows),
        Actor("test", "analyst"),
    )
    assert result.exit_code == 0
    return context


def publish(client: TestClient, text: str = POLICY) -> str:
    """As policy officers: one uploads, a second approves and publishes (双人复核); returns the
    policy page after the run."""
    sign_in_as(client, "policy_office")
    saved = client.post("/policies/drafts", data={"text": text}, follow_redirects=False)
    assert saved.status_code == 303
    assert saved.headers["location"] == "/policies/test-rd-reward?version=1&result=draft"
    draft = client.get(saved.headers["location"]).text
    assert "草稿已保存" in draft and 'id="publish-button"' in draft
    version_id = re.search(r'action="/policies/versions/(\d+)/publish"', draft)
    assert version_id
    sign_in_as(client, "policy_office")  # the second person
    done = client.post(f"/policies/versions/{version_id.group(1)}/publish", follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith(
        "/policies/test-rd-reward?run="
    )
    return client.get(done.headers["location"]).text


def test_publish_confirm_and_disbursement(
    client: TestClient, settings: Settings, registry: RegistryContext
) -> None:
    enterprise = make_account(settings, "enterprise", enterprise_uscc=uscc(1))
    page = publish(client)
    assert "本次匹配结果" in page
    assert re.search(r'id="run-eligible">3<', page)  # 1, 2 and 6
    assert re.search(r'id="run-needs-data">1<', page)  # 3: no R&D figure
    assert "经认定的高新技术企业（第二条）" in page and 'id="rerun-button"' in page

    # The enterprise is told by e-mail, with the reasons (the policy office is mailed the pushes
    # nobody receives: see test_second_look).
    mails = [
        message_from_bytes(p.read_bytes(), policy=default)
        for p in settings.outbox_dir.glob("*.eml")
    ]
    (sent,) = [m for m in mails if "请线下通知" not in m["Subject"]]
    assert sent["To"] == enterprise.email and "测试研发投入奖励" in sent["Subject"]
    body = sent.get_body().get_content()
    assert "可享受 30万元" in body and "上年度研发费用不低于100万元（第三条） — 研发费用" in body
    assert "/my/policies#push-" in body

    # The enterprise sees its push with the reasons, and confirms.
    sign_in(client, enterprise)
    mine = client.get("/my/policies").text
    assert "测试研发投入奖励" in mine and "30万元" in mine
    assert "上年度研发费用不低于100万元（第三条）" in mine and "300万元" in mine
    push_id = re.search(r'action="/my/policies/(\d+)/confirm"', mine)
    assert push_id
    confirmed = client.post(f"/my/policies/{push_id.group(1)}/confirm", follow_redirects=False)
    assert confirmed.status_code == 303
    after = client.get(confirmed.headers["location"]).text
    assert "已确认享受" in after and "确认享受</button>" not in after
    again = client.post(f"/my/policies/{push_id.group(1)}/decline")
    assert again.status_code == 409 and "不能再更改" in again.text

    # Another enterprise cannot act on it: answered like a missing push, and audited.
    sign_in_as(client, "member", enterprise_uscc=uscc(2))
    assert client.post(f"/my/policies/{push_id.group(1)}/decline").status_code == 404
    # The enterprise lacking data may decline but not confirm.
    sign_in_as(client, "enterprise", enterprise_uscc=uscc(3))
    needs = client.get("/my/policies").text
    assert "待补充数据" in needs and "研发费用（元）" in needs and "确认享受</button>" not in needs
    three = re.search(r'action="/my/policies/(\d+)/decline"', needs)
    assert three
    forced = client.post(f"/my/policies/{three.group(1)}/confirm")
    assert forced.status_code == 409 and "尚缺部分数据" in forced.text
    sign_in_as(client, "enterprise")
    assert "没有绑定企业" in client.get("/my/policies").text

    # The policy office: the disbursement list and its Excel file.
    sign_in_as(client, "policy_office")
    manage = client.get("/policies/manage").text
    version = re.search(r'href="/policies/versions/(\d+)/disbursement"', manage)
    assert version
    listing = client.get(f"/policies/versions/{version.group(1)}/disbursement").text
    assert re.search(r'id="confirmed-count">1<', listing) and ">30.00<" in listing
    # 登记拨付: the confirmed push, once paid, goes into the payout ledger (once only).
    paid = re.search(r'action="(/policies/pushes/\d+/payment)"', listing)
    assert paid and "登记拨付" in listing
    future = client.post(paid.group(1), data={"paid_on": "2999-01-01", "reference": "x"})
    assert future.status_code == 409 and "拨付日期不能晚于今天" in future.text
    done = client.post(paid.group(1), data={"paid_on": "2026-07-01", "reference": "拨-1"})
    assert done.status_code == 200 and "已拨付 2026-07-01" in done.text
    assert client.post(paid.group(1), data={"paid_on": "2026-07-01"}).status_code == 409
    xlsx = client.get(f"/policies/versions/{version.group(1)}/disbursement.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    sheet = load_workbook(io.BytesIO(xlsx.content))["拨付清单"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[2][1:5] == (uscc(1), "广州测试1号科技有限公司", 300000.0, "已确认享受")

    # Staff see the decisions on the enterprise's registry profile, with the way to the reasons.
    profile = client.get(f"/registry/enterprises/{uscc(1)}").text
    assert 'id="policy-pushes"' in profile and "测试研发投入奖励" in profile
    assert "已确认享受" in profile and f"/policies/test-rd-reward/explain/{uscc(1)}" in profile

    # Staff explanations read the payout ledger as pushes do: once paid, a one-off is not again.
    assert "不再享受" not in client.get(f"/policies/test-rd-reward/explain/{uscc(1)}").text
    once = POLICY.replace("benefit:\n", "benefit:\n  once: true\n")
    saved = client.post("/policies/drafts", data={"text": once}, follow_redirects=False)
    draft = re.search(
        r'action="/policies/versions/(\d+)/publish"', client.get(saved.headers["location"]).text
    )
    assert draft
    sign_in_as(client, "policy_office")  # the second person
    asked = client.post(f"/policies/versions/{draft.group(1)}/publish")
    assert "第 1 版将失效" in asked.text  # it asks first
    client.post(f"/policies/versions/{draft.group(1)}/publish", data={"confirmed": "yes"})
    explained = client.get(f"/policies/test-rd-reward/explain/{uscc(1)}").text
    assert "不再享受" in explained and "已于 2026-07-01 获本政策奖补 30万元" in explained

    with session_scope(registry.database_url) as db:
        audited = {(a.action, a.actor, a.result) for a in db.query(AuditEntry)}
    assert ("policy.push.confirm", enterprise.username, "success") in audited
    assert any(a == "policy.push.decline" and r == "refused" for a, _, r in audited)
    assert any(a == "policy.run" for a, _, _ in audited)


def test_library_is_public_and_drafts_are_staff_only(
    client: TestClient, registry: RegistryContext
) -> None:
    publish(client)
    sign_in_as(client, "policy_office")
    draft = client.post(
        "/policies/drafts",
        data={"text": POLICY.replace("rate: 0.1", "rate: 0.2")},
        follow_redirects=False,
    )
    assert draft.headers["location"].endswith("version=2&result=draft")
    staff_library = client.get("/policies").text
    assert 'id="draft-policies"' in staff_library

    client.cookies.clear()
    client.headers.pop("X-CSRF-Token", None)
    library = client.get("/policies").text
    assert (
        "测试研发投入奖励" in library and "免申即享" in library and "draft-policies" not in library
    )
    detail = client.get("/policies/test-rd-reward").text
    assert "已发布" in detail and "规则 <code>" not in detail  # the CEL of clauses: staff only
    assert 'id="simulate-link"' not in detail
    assert client.get("/policies/test-rd-reward?version=2").status_code == 404
    assert client.get("/policies/no-such-policy").status_code == 404
    assert (
        client.get("/policies/test-rd-reward/simulate", follow_redirects=False).status_code == 303
    )
    sign_in_as(client, "enterprise", enterprise_uscc=uscc(1))
    assert client.get("/policies/test-rd-reward/near-misses").status_code == 403
    assert client.get("/policies/manage").status_code == 403


def test_bad_policy_file_lists_every_problem(client: TestClient, registry: RegistryContext) -> None:
    sign_in_as(client, "policy_office")
    bad = POLICY.replace("enterprise.rd_expense >=", "enterprise.rd >=").replace(
        "title: 测试研发投入奖励\n", ""
    )
    refused = client.post(
        "/policies/drafts", files={"file": ("研发 奖励.yaml", bad.encode(), "application/yaml")}
    )
    assert refused.status_code == 400
    assert "缺少必填项 title" in refused.text and "研发_奖励.yaml:1:1:" in refused.text
    pasted = client.post(
        "/policies/drafts",
        data={"text": POLICY.replace("enterprise.rd_expense >=", "enterprise.rd >=")},
    )
    assert pasted.status_code == 400
    assert re.search(r"粘贴的文本\.yaml:15:\d+: .*rd", pasted.text)
    assert "enterprise.rd &gt;=" in pasted.text  # the text is kept for correcting
    assert client.post("/policies/drafts", data={"text": " "}).status_code == 400
    in_chinese = POLICY.replace('"high_tech" in', '"高新技术企业" in')
    words = client.post("/policies/drafts", data={"text": in_chinese})
    assert words.status_code == 400
    assert "未知的企业标签或资质“高新技术企业”，应写作 high_tech" in words.text
    assert (
        client.post(
            "/policies/drafts", files={"file": ("x.yaml", b"\xff\xfe", "text/yaml")}
        ).status_code
        == 400
    )


def test_staff_simulate_explain_and_near_misses(
    client: TestClient, registry: RegistryContext
) -> None:
    publish(client)
    sign_in_as(client, "analyst")
    page = client.get("/policies/test-rd-reward/simulate").text
    assert 'type="range"' in page and 'name="min_rd_expense"' in page and "js/simulate.js" in page
    assert 'id="sim-chart-district"' in page and "data-chart=" in page
    lowered = client.get(
        "/policies/test-rd-reward/simulate/result",
        params={"min_rd_expense": "400000", "version": "1"},
    ).text
    assert re.search(r'id="sim-before-count">3<', lowered)
    assert re.search(r'id="sim-after-count">4<', lowered)  # 5 (50万) now qualifies
    assert 'id="sim-gained">+1<' in lowered and uscc(5) in lowered
    raised = client.get(
        "/policies/test-rd-reward/simulate/result", params={"min_rd_expense": "4500000"}
    )
    assert 'id="sim-lost">−2<' in raised.text  # 1 (300万) and 6 (400万); 2 (500万) stays
    bad = client.get("/policies/test-rd-reward/simulate/result", params={"min_rd_expense": "很多"})
    assert bad.status_code == 400 and "min_rd_expense" in bad.text
    swapped = client.get(
        "/policies/test-rd-reward/simulate/result",
        params={"min_rd_expense": "很多"},
        headers={"HX-Request": "true"},
    )
    assert swapped.status_code == 200 and 'id="sim-error"' in swapped.text  # HTMX shows it

    misses = client.get("/policies/test-rd-reward/near-misses").text
    assert f'data-uscc="{uscc(5)}"' in misses and f'data-uscc="{uscc(4)}"' in misses
    assert "50万元" in misses  # 5's shortfall to the 100万 threshold
    assert 'id="not-in-force"' not in misses

    explained = client.get(f"/policies/test-rd-reward/explain/{uscc(4)}").text
    assert "不符合" in explained and "✘ 不满足" in explained and "企业标签：（无）" in explained
    lookup = client.get(
        "/policies/test-rd-reward/explain", params={"uscc": uscc(1).lower()}, follow_redirects=False
    )
    assert lookup.headers["location"] == f"/policies/test-rd-reward/explain/{uscc(1)}"
    assert client.get("/policies/test-rd-reward/explain/914401060000000000").status_code == 404

    # A chain leader sees only enterprises of their clusters (6 is no icv-nev firm).
    sign_in_as(client, "chain_leader", scope_clusters=["icv-nev"])
    assert client.get(f"/policies/test-rd-reward/explain/{uscc(6)}").status_code == 404
    assert client.get(f"/policies/test-rd-reward/explain/{uscc(1)}").status_code == 200


def test_the_near_misses_of_a_policy_not_in_force_say_why_there_are_none(
    client: TestClient, registry: RegistryContext
) -> None:
    expired = POLICY.replace(
        "valid: {from: 2025-01-01, to: 2027-12-31}", "valid: {from: 2020-01-01, to: 2021-12-31}"
    )
    publish(client, expired)
    sign_in_as(client, "analyst")
    misses = client.get("/policies/test-rd-reward/near-misses").text
    assert 'id="not-in-force"' in misses and "（2020-01-01 至 2021-12-31）" in misses
    assert "data-uscc=" not in misses
