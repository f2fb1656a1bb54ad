"""分期拨付 on the pages: the enterprise's push shows its schedule in Chinese (第1期 … 已拨付 / 第2期
预计 …，须…), and the disbursement list records the payment of each instalment on its own."""

from __future__ import annotations

import io
import re
from email import message_from_bytes
from email.policy import default
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import select

from chanye.beijing import today_in_beijing, years_later
from chanye.config import Settings
from chanye.registry.context import RegistryContext
from chanye.registry.importer import import_file
from chanye.store.audit import Actor
from chanye.store.database import session_scope
from chanye.store.models import PolicyInstalment
from tests.policy.test_instalments import SCHEDULED
from tests.policy.test_workflow import registry_rows
from tests.registry.factory import uscc, write_csv
from tests.web.signin import make_account, sign_in, sign_in_as
from tests.web.test_page_wording import faults, visible_text
from tests.web.test_policy_pages import publish


@pytest.fixture
def registry(settings: Settings, client: TestClient, tmp_path: Path) -> RegistryContext:
    context = RegistryContext.from_settings(settings)
    path = write_csv(tmp_path / "registry.csv", registry_rows())
    result = import_file(
        context.database_url, context.paths, context.system, path, Actor("test", "analyst")
    )
    assert result.exit_code == 0
    return context


def _schedule(page: str) -> list[str]:
    """The instalments a page lists, each as one line of text."""
    items = re.findall(r'<li class="instalment[^"]*"[^>]*>(.*?)</li>', page, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", i).split()) for i in items]


def test_the_schedule_on_the_push_and_the_disbursement_list(
    client: TestClient, settings: Settings, registry: RegistryContext
) -> None:
    today = today_in_beijing()
    month, next_year = today.strftime("%Y-%m"), years_later(today, 1).strftime("%Y-%m")
    enterprise = make_account(settings, "enterprise", enterprise_uscc=uscc(1))
    shown = publish(client, SCHEDULED)
    assert "第1期 确认享受后，奖励的60%（首年拨付60%）" in _schedule(shown)[0]
    assert _schedule(shown)[1].startswith(
        "第2期 第1期拨付满1年后，奖励的40%（次年拨付40%，须营业收入不低于上年）"
    )
    public = TestClient(client.app, base_url="https://testserver.local")
    library = public.get("/policies/test-rd-reward").text  # as the public reads it: no rule
    assert "分 2 期拨付" in library and "prior(" not in library

    sign_in(client, enterprise)
    mine = client.get("/my/policies").text
    assert "分 2 期拨付（确认享受后，按以下安排拨付）" in mine
    assert _schedule(mine) == [
        "第1期 确认享受后 18万元",
        f"第2期 预计{next_year} 12万元（次年拨付40%，须营业收入不低于上年）",
    ]
    push_id = re.search(r'action="/my/policies/(\d+)/confirm"', mine)
    assert push_id
    client.post(f"/my/policies/{push_id.group(1)}/confirm")

    sign_in_as(client, "policy_office")
    manage = client.get("/policies/manage").text
    version = re.search(r'href="/policies/versions/(\d+)/disbursement"', manage)
    assert version
    listing = client.get(f"/policies/versions/{version.group(1)}/disbursement").text
    lines = _schedule(listing)
    assert lines[0].startswith(f"第1期 18.00万元，应付 {today} · 待拨付")
    assert lines[1] == f"第2期 12.00万元，应付 {years_later(today, 1)} · 未到期"
    assert listing.count('name="instalment"') == 1 and "登记第1期拨付" in listing
    action = f"/policies/pushes/{push_id.group(1)}/payment"
    early = client.post(action, data={"paid_on": today.isoformat(), "instalment": "2"})
    assert early.status_code == 409 and "第 2 期应于" in early.text
    paid = client.post(action, data={"paid_on": today.isoformat(), "instalment": "1"})
    assert paid.status_code == 200
    assert _schedule(paid.text)[0] == f"第1期 18.00万元，应付 {today} · 已拨付 {today}"
    xlsx = client.get(f"/policies/versions/{version.group(1)}/disbursement.xlsx")
    rows = list(load_workbook(io.BytesIO(xlsx.content))["拨付清单"].iter_rows(values_only=True))
    assert rows[1][-1] == "分期拨付" and rows[2][3] == 300000.0
    assert rows[2][-1] == (
        f"第1期 18万元 应付 {today} 已拨付 {today}；第2期 12万元 应付 {years_later(today, 1)} 未到期"
    )
    again = client.post(action, data={"paid_on": today.isoformat(), "instalment": "1"})
    assert again.status_code == 409 and "第 1 期已登记拨付" in again.text

    assert 'id="check-instalments"' not in paid.text  # nothing due to check

    sign_in(client, enterprise)
    mine = client.get("/my/policies").text
    assert _schedule(mine) == [
        f"第1期 {month} 18万元 已拨付",
        f"第2期 预计{next_year} 12万元（次年拨付40%，须营业收入不低于上年）",
    ]
    assert "prior(" not in mine and "enterprise.revenue" not in mine

    # A year later the second falls due; this registry holds no revenue of past years, so its
    # look-back waits for data (待补充), and it is not paid.
    with session_scope(settings.resolved_database_url) as db:
        for row in db.scalars(select(PolicyInstalment)):
            row.due_on = years_later(row.due_on, -1)
    sign_in_as(client, "policy_office")
    listing = client.get(f"/policies/versions/{version.group(1)}/disbursement").text
    assert "有 1 期分期奖励已到期" in listing and 'id="check-instalments"' in listing
    checked = client.post(f"/policies/versions/{version.group(1)}/instalments/check")
    assert checked.status_code == 200 and 'id="check-instalments"' in checked.text  # still due
    second = _schedule(checked.text)[1]
    assert second.startswith(f"第2期 12.00万元，应付 {today} · 待补充（数据不全，暂不拨付）")
    assert "缺少：前一年度营业收入（元）" in second, second
    assert 'value="2"' not in checked.text  # no form to pay it
    refused = client.post(action, data={"paid_on": today.isoformat(), "instalment": "2"})
    assert refused.status_code == 409 and "第 2 期待补充" in refused.text

    sign_in(client, enterprise)
    mine = client.get("/my/policies").text
    assert _schedule(mine)[1].startswith("第2期 12万元 待补充（数据不全，暂不拨付）：")
    for shown in (mine, checked.text):  # Chinese only, money in 万元, no rule as written
        assert faults(visible_text(shown), set()) == []


def test_the_push_mail_and_the_explanation_say_how_the_amount_is_split(
    client: TestClient, settings: Settings, registry: RegistryContext
) -> None:
    """30万 in two: the mail telling of the push and the staff's explanation name each part in
    万元 with its condition."""
    enterprise = make_account(settings, "enterprise", enterprise_uscc=uscc(1))
    publish(client, SCHEDULED)
    first, later = (
        "首期 60% 18万元（确认当日）",
        "次年 40% 12万元（次年拨付40%，须营业收入不低于上年）",
    )
    mails = [
        message_from_bytes(p.read_bytes(), policy=default)
        for p in settings.outbox_dir.glob("*.eml")
    ]
    (sent,) = [m for m in mails if m["To"] == enterprise.email]
    body = sent.get_body().get_content()
    assert "可享受 30万元" in body and "该奖励分 2 期拨付" in body
    assert f"  {first}\n  {later}\n" in body

    sign_in_as(client, "policy_office")
    page = client.get(f"/policies/test-rd-reward/explain/{uscc(1)}")
    assert page.status_code == 200
    shown = re.search(r'<p class="policy-schedule" id="explain-schedule">(.*?)</p>', page.text)
    assert shown and shown.group(1) == f"分期拨付：分 2 期：{first}、{later}"
    nothing = client.get(f"/policies/test-rd-reward/explain/{uscc(3)}").text  # no R&D figure
    assert "分期拨付：分 2 期：首期 60%（确认当日）、次年 40%（次年拨付40%" in nothing


def test_an_unknown_word_in_a_look_back_is_refused_at_its_line(
    client: TestClient, registry: RegistryContext
) -> None:
    look_back = "      when: enterprise.revenue >= prior(enterprise.revenue)\n"
    bad = SCHEDULED.replace(look_back, "      when: '\"above_scal\" in enterprise.tags'\n")
    line = next(n for n, s in enumerate(bad.splitlines(), 1) if "above_scal" in s)
    sign_in_as(client, "policy_office")
    refused = client.post(
        "/policies/drafts", files={"file": ("scheduled.yaml", bad.encode(), "application/yaml")}
    )
    assert refused.status_code == 400
    assert f"scheduled.yaml:{line}:" in refused.text and line > 1
    assert "条件 schedule-2：未知的企业标签或资质“above_scal”，是否指 above_scale？" in refused.text
