"""企业库 pages and API through the app (no browser)."""

from __future__ import annotations

import re
import time
from pathlib import Path

from fastapi.testclient import TestClient

from tests.registry.factory import row, uscc, write_csv
from tests.web.signin import sign_in_as


def _import(client: TestClient, tmp_path: Path, rows: list[list[str]]) -> str:
    return _upload(client, write_csv(tmp_path / "upload.csv", rows), "名录.csv")


def _upload(client: TestClient, path: Path, name: str) -> str:
    with path.open("rb") as handle:
        response = client.post(
            "/registry/imports",
            files={"file": (name, handle, "text/csv")},
            follow_redirects=False,
        )
    assert response.status_code == 303
    job = response.headers["location"]
    deadline = time.monotonic() + 120  # the import runs in a process of its own
    while time.monotonic() < deadline:
        progress = client.get(f"{job}/progress").text
        if 'data-done="true"' in progress:
            return progress
        time.sleep(0.05)
    raise AssertionError("import did not finish")


def test_upload_search_profile_and_undo(client: TestClient, tmp_path: Path) -> None:
    sign_in_as(client, "analyst")
    progress = _import(client, tmp_path, [row(1), row(2, **{"营业收入（万元）": "很多"})])
    assert "不合格 <strong>1</strong> 行" in progress
    assert re.search(r'href="/registry/changes/1/errors.xlsx"', progress)
    report = client.get("/registry/changes/1/errors.xlsx")
    assert report.status_code == 200 and report.content[:2] == b"PK"

    found = client.get("/api/registry/search", params={"cluster": "icv-nev"}).json()
    assert found["total"] == 1 and found["rows"][0]["uscc"] == uscc(1)
    page = client.get("/registry", params={"q": "测试1号", "min_revenue_wan": ""}).text
    assert f'data-uscc="{uscc(1)}"' in page
    bad = client.get("/registry/results", params={"min_revenue_wan": "很多"})
    assert bad.status_code == 400 and "应为数字" in bad.text

    profile = client.get(f"/registry/enterprises/{uscc(1)}").text
    assert "动力电池与电池管理" in profile
    assert profile.count("行业代码 3841") == 1  # each code shown once per industry
    assert client.get("/registry/enterprises/914401060000000000").status_code == 404

    history = client.get("/registry/imports").text
    assert 'data-change="1"' in history and "撤销" in history
    asked = client.post("/registry/changes/1/rollback", follow_redirects=False)
    assert asked.status_code == 200  # first the consequence, nothing done yet
    assert "将撤销第 1 次变更：删除 1 家企业，恢复 0 家，撤回 0 条待确认推送" in asked.text
    assert client.get("/api/registry/search").json()["total"] == 1
    in_force = re.search(r'name="in_force" value="(\d+)"', asked.text)
    assert in_force is not None
    undo = client.post(
        "/registry/changes/1/rollback",
        data={"confirmed": "yes", "in_force": in_force.group(1)},
        follow_redirects=False,
    )
    assert undo.status_code == 303 and "message=" in undo.headers["location"]
    assert client.get("/api/registry/search").json()["total"] == 0

    history = client.get("/registry/imports").text
    assert "重做" in history  # the undo is in the history and can itself be undone
    redo = client.post(
        "/registry/changes/2/rollback", data={"confirmed": "yes"}, follow_redirects=False
    )
    assert redo.status_code == 303
    assert client.get("/api/registry/search").json()["total"] == 1


def test_an_undo_confirmed_after_another_change_is_refused(
    client: TestClient, tmp_path: Path
) -> None:
    sign_in_as(client, "analyst")
    _import(client, tmp_path, [row(1)])
    asked = client.post("/registry/changes/1/rollback").text
    _import(client, tmp_path, [row(2)])
    stale = client.post("/registry/changes/1/rollback", data={"confirmed": "yes", "in_force": "1"})
    assert "请重新查看撤销的后果" in stale.text and "将撤销" in asked
    assert client.get("/api/registry/search").json()["total"] == 2


def test_upload_refuses_other_file_types(client: TestClient) -> None:
    sign_in_as(client, "analyst")
    response = client.post(
        "/registry/imports", files={"file": ("x.exe", b"MZ", "application/octet-stream")}
    )
    assert response.status_code == 400 and "CSV" in response.text


def test_upload_over_the_limit_is_refused_and_not_kept(tmp_path: Path) -> None:
    from chanye.config import Settings
    from chanye.store.migrate import upgrade
    from chanye.web.app import create_app

    settings = Settings(data_dir=tmp_path, max_upload_mb=1, warm_up=False)
    upgrade(settings.resolved_database_url)
    with TestClient(create_app(settings), base_url="https://testserver.local") as small:
        sign_in_as(small, "analyst")
        big = b"x" * (2 * 2**20)
        response = small.post("/registry/imports", files={"file": ("big.csv", big, "text/csv")})
    assert response.status_code == 413 and "上限" in response.text
    assert not any((tmp_path / "uploads").rglob("*.csv"))


def test_facts_over_time_uploaded_on_the_page_show_on_the_profile_in_wan_yuan(
    client: TestClient, tmp_path: Path
) -> None:
    sign_in_as(client, "analyst")
    _import(client, tmp_path, [row(1)])
    annual = tmp_path / "annual.csv"
    annual.write_text(
        "统一社会信用代码,2023年营业收入（千元）,2024年营业收入（千元）,2024年从业人员\n"
        f"{uscc(1)},30000,36000,130\n",
        encoding="utf-8",
    )
    progress = _upload(client, annual, "年度数据.csv")
    assert "年度数据：共 <strong>1</strong> 行" in progress and "新增 3 条" in progress
    qualifications = tmp_path / "zizhi.csv"
    qualifications.write_text(
        f"统一社会信用代码,资质,认定日期\n{uscc(1)},高新技术企业,2020-11-01\n", encoding="utf-8"
    )
    _upload(client, qualifications, "资质.csv")
    profile = client.get(f"/registry/enterprises/{uscc(1)}").text
    history = profile.split('id="history"')[1].split("</section>")[0]
    assert "2023年" in history and "3000万元" in history and "3600万元" in history
    assert ">130<" in history
    held = profile.split('id="qualifications"')[1].split("</section>")[0]
    assert "高新技术企业" in held and "2023-10-31" in held and "已过期" in held
    imports = client.get("/registry/imports").text
    assert "年度数据" in imports and "资质认定" in imports
