"""Items, one to many, through the app: a 技术改造 policy pays each project on its own, each with
its own cap (单个项目不超过3000万元). The enterprise lists its projects on its push page, each
with its invoices; staff verify; the push is decided project by project and the amounts add up."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

from chanye.config import Settings
from chanye.registry.context import RegistryContext
from tests.policy.test_items import POLICY as PROJECTS
from tests.registry.factory import uscc
from tests.web.signin import make_account, sign_in, sign_in_as
from tests.web.test_application_pages import PDF, _push_id, _review, registry

__all__ = ["registry"]  # the fixture, shared with the single-value application test

# The policy of the items' own tests, each project proved by its invoices.
POLICY = PROJECTS.replace(
    "kind: money, unit: 万元}", "kind: money, unit: 万元, attachments: [设备购置发票清单]}"
).replace("label: 技术改造项目\n", "label: 技术改造项目\n  max: 3\n")


def _publish(client: TestClient) -> None:
    sign_in_as(client, "policy_office")
    saved = client.post("/policies/drafts", data={"text": POLICY}, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    draft = client.get(saved.headers["location"]).text
    assert "快申" in draft
    version = re.search(r'action="/policies/versions/(\d+)/publish"', draft)
    assert version
    sign_in_as(client, "policy_office")
    done = client.post(f"/policies/versions/{version.group(1)}/publish", follow_redirects=False)
    assert done.status_code == 303


def _apply(
    client: TestClient, push: str, projects: list[tuple[str, str]], files: list[int]
) -> httpx.Response:
    """Projects as (name, 万元) in rows 0, 1 …; ``files``: the rows whose invoices are attached.
    A blank row 5 is sent as the browser sends an unused row."""
    data: dict[str, str] = {"item-5-project_name": "", "item-5-equipment_spend": ""}
    for row, (name, spend) in enumerate(projects):
        data[f"item-{row}-project_name"], data[f"item-{row}-equipment_spend"] = name, spend
        data[f"item-{row}-in_stats"] = "是"
    uploads = [
        (f"item_attachment_{row}_0", (f"发票{row}.pdf", PDF, "application/pdf")) for row in files
    ]
    return client.post(
        f"/my/applications/{push}", data=data, files=uploads or None, follow_redirects=False
    )


def test_each_project_is_decided_on_its_own_and_the_amounts_add_up(
    client: TestClient, settings: Settings, registry: RegistryContext
) -> None:
    enterprise = make_account(settings, "enterprise", enterprise_uscc=uscc(1))
    _publish(client)
    sign_in(client, enterprise)
    mine = client.get("/my/policies").text
    assert "待补充数据" in mine and "技术改造项目 1" in mine and "再添加一个技术改造项目" in mine
    assert 'name="item-0-equipment_spend"' in mine and 'name="item_attachment_0_0"' in mine
    push = _push_id(mine)

    # Refusals name the project and the field; nothing is kept.
    nothing = _apply(client, push, [], [])
    assert nothing.status_code == 400 and "请至少填写一个技术改造项目" in nothing.text
    bad = _apply(client, push, [("一号线", "800"), ("二号线", "很多")], [0])
    assert bad.status_code == 400
    assert "技术改造项目 2：新设备购置额须为不小于 0 的数字（单位：万元），收到“很多”" in bad.text
    assert "技术改造项目 2：请上传设备购置发票清单" in bad.text
    assert 'value="很多"' in bad.text  # what was typed stays on the form
    four = [("一", "600"), ("二", "600"), ("三", "600"), ("四", "600")]
    assert "每份申报最多 3 个技术改造项目" in _apply(client, push, four, [0, 1, 2, 3]).text

    # Rows numbered with a gap (as a page may send them) keep their own files.
    gap = {
        "item-0-project_name": "一号线",
        "item-0-equipment_spend": "800",
        "item-0-in_stats": "是",
    }
    gap |= {
        "item-7-project_name": "七号线",
        "item-7-equipment_spend": "900",
        "item-7-in_stats": "是",
    }
    files = [
        (f"item_attachment_{row}_0", (f"发票{row}.pdf", PDF, "application/pdf")) for row in (0, 7)
    ]
    fine = client.post(
        f"/my/applications/{push}", data={**gap, "item-8-project_name": "x"}, files=files
    )
    assert (
        "技术改造项目 2：请上传" not in fine.text
        and "技术改造项目 3：请上传设备购置发票清单" in fine.text
    )

    # 800万 → 160万; 2亿 → 20% is 4000万, capped at 3000万 for that project; 300万 → nothing.
    projects = [("一号线改造", "800"), ("二号线新建", "20000"), ("三号仓库", "300")]
    done = _apply(client, push, projects, [0, 1, 2])
    assert done.status_code == 303, re.findall(r"error[^>]*>([^<]*)", done.text)
    submitted = client.get("/my/policies").text
    assert "技术改造项目 2：新设备购置额" in submitted and "2亿元" in submitted

    sign_in_as(client, "policy_office")
    queue = client.get("/policy-applications").text
    assert "测试技术改造项目奖励" in queue and "test-projects" not in queue  # its title, not its id
    application = re.search(r'href="/policy-applications/(\d+)"', queue)
    assert application
    shown = client.get(f"/policy-applications/{application.group(1)}").text
    assert 'id="application-items"' in shown and "二号线新建" in shown and "300万元" in shown
    assert "技术改造项目 3：设备购置发票清单" in shown  # each project's own invoices
    verified = _review(client, "verify")
    assert verified.status_code == 303
    decided = client.get(verified.headers["location"]).text
    assert 'id="push-amount">3160万元<' in decided

    sign_in(client, enterprise)
    ready = client.get("/my/policies").text
    assert "3160万元" in ready and "确认享受</button>" in ready
    assert "技术改造项目 3（三号仓库）" in ready
    assert "不符合：项目新设备购置额达到500万元及以上（第一条）" in ready
    assert "2 个技术改造项目合计 3160万元" in ready
    assert "item." not in ready and "params." not in ready  # the clause, not the CEL
