"""Row-level scope through the app: a chain leader's statistics and simulations count only the
enterprises of their industries (each figure compared with the same figure computed from the
rows they may see), and deep search pages answer instead of failing."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from chanye.config import Settings
from chanye.registry.context import RegistryContext
from chanye.registry.queries import SearchQuery
from tests.policy.test_workflow import POLICY, RD
from tests.registry.factory import row, uscc
from tests.web.signin import make_account, sign_in, sign_in_as
from tests.web.test_policy_pages import publish, registry  # noqa: F401  (fixture)
from tests.web.test_registry_pages import _import

SCOPE = "icv-nev"
ROWS = [
    row(1),  # 天河, battery maker: icv-nev, high-tech
    row(2, **{"所属区": "黄埔区", "企业标签": "规上企业"}),  # icv-nev in 黄埔
    row(3, **{"登记状态": "注销"}),  # icv-nev, closed
    row(4, **{"行业代码": "6513", "经营范围": "应用软件开发"}),  # software: outside icv-nev
    row(5, **{"行业代码": "6513", "经营范围": "应用软件开发", "所属区": "越秀区"}),
    row(6, **{"行业代码": "7310", "经营范围": "咨询服务", "企业标签": "专精特新中小企业"}),
]


def _chain_leader(client: TestClient) -> None:
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    sign_in(client, make_account(settings, "chain_leader", scope_clusters=[SCOPE]))


def _everything(client: TestClient) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = client.get("/api/registry/search", params={"size": 200}).json()[
        "rows"
    ]
    return rows


def _counts(rows: list[dict[str, Any]], key: str) -> dict[str, int]:
    values = Counter(v for r in rows for v in (r[key] if isinstance(r[key], list) else [r[key]]))
    return dict(sorted(values.items()))


def test_a_chain_leaders_statistics_count_only_their_industries(
    client: TestClient, tmp_path: Path
) -> None:
    sign_in_as(client, "analyst")
    _import(client, tmp_path, ROWS)
    city = client.get("/api/registry/stats").json()
    everything = _everything(client)
    client.cookies.clear()

    _chain_leader(client)
    stats = client.get("/api/registry/stats").json()
    mine = [r for r in everything if SCOPE in r["clusters"]]
    assert len(mine) == 3 and city["total"] == 6  # the scope is a real part of the city
    assert stats["total"] == len(mine)
    assert stats["by_district"] == _counts(mine, "district_code") != city["by_district"]
    assert stats["by_tag"] == _counts(mine, "tags") != city["by_tag"]
    assert stats["by_status"] == _counts(mine, "status") != city["by_status"]
    assert list(stats["by_cluster"]) == [SCOPE] and stats["by_cluster"][SCOPE]["enterprises"] == 3
    assert set(stats["by_industry"]) == {SCOPE} and stats["unclassified"] == 0

    page = client.get("/registry").text
    assert "您负责的 1 个产业（智能网联与新能源汽车）共有企业 <strong>3</strong> 家" in page
    assert "全市" not in page and "导入企业名录" not in page
    nothing = client.get("/registry/results", params={"q": "不存在的企业"}).text
    assert "您负责的产业中没有符合这些条件的企业" in nothing and "请先" not in nothing


def test_a_chain_leader_with_no_industry_sees_nothing(client: TestClient, tmp_path: Path) -> None:
    sign_in_as(client, "analyst")
    _import(client, tmp_path, ROWS)
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    sign_in(client, make_account(settings, "chain_leader"))
    assert client.get("/api/registry/stats").json()["total"] == 0
    assert client.get("/api/registry/search").json()["total"] == 0
    assert client.get(f"/registry/enterprises/{uscc(1)}").status_code == 404
    assert "尚未分配" in client.get("/account").text


def _explained(client: TestClient, code: str) -> str:
    return client.get(f"/policies/test-rd-reward/explain/{code}").text


def _in_scope(client: TestClient, code: str) -> bool:
    return SCOPE in client.get(f"/api/registry/enterprises/{code}").json()["clusters"]


def _chart(page: str, name: str) -> dict[str, Any]:
    found = re.search(rf"id=\"sim-chart-{name}\"[^>]*data-chart='([^']*)'", page)
    assert found, f"no {name} chart"
    chart: dict[str, Any] = json.loads(found.group(1).replace("&#34;", '"'))
    return chart


def test_a_chain_leaders_simulation_counts_only_their_industries(
    client: TestClient,
    registry: RegistryContext,  # noqa: F811
) -> None:
    publish(client)
    sign_in_as(client, "analyst")
    usccs = [uscc(n) for n in range(1, 7)]
    eligible = {u for u in usccs if "符合全部条件" in _explained(client, u)}
    in_scope = {u for u in usccs if _in_scope(client, u)}
    city = client.get("/policies/test-rd-reward/simulate/result").text
    client.cookies.clear()

    _chain_leader(client)
    result = client.get("/policies/test-rd-reward/simulate/result").text
    expected = len(eligible & in_scope)
    assert 0 < expected < len(eligible)  # the scope leaves some eligible firms out
    assert re.search(rf'id="sim-before-count">{expected}<', result)
    assert re.search(rf'id="sim-before-count">{len(eligible)}<', city)
    districts = _chart(result, "district")
    assert sum(districts["before"]) == expected
    assert sum(_chart(city, "district")["before"]) == len(eligible)
    assert _chart(result, "cluster")["labels"] == ["智能网联与新能源汽车"]
    lowered = client.get(
        "/policies/test-rd-reward/simulate/result", params={"min_rd_expense": "400000"}
    )
    gainers = re.findall(r'data-uscc="(\w+)"', lowered.text)
    assert uscc(5) in gainers and set(gainers) <= in_scope


def test_deep_and_invalid_pages(client: TestClient, tmp_path: Path) -> None:
    sign_in_as(client, "analyst")
    _import(client, tmp_path, ROWS)
    for page in ("5000", "1000000"):  # past the end: an empty page
        deep = client.get("/api/registry/search", params={"page": page, "size": 200})
        assert deep.status_code == 200 and deep.json()["rows"] == [] and deep.json()["total"] == 6
    for params in (
        {"page": "0"},
        {"page": "x"},
        {"page": str(2**63 + 5)},
        {"size": "201"},
        {"size": "0"},
    ):
        refused = client.get("/api/registry/search", params=params)
        assert refused.status_code == 400, params
        assert re.search(r"(页码|每页条数)应为 1 到 [\d,]+ 之间的整数", refused.json()["detail"])
    assert "页码应为" in client.get("/registry", params={"page": "-1"}).text


def test_keyset_pages_follow_each_other_in_every_order(client: TestClient, tmp_path: Path) -> None:
    sign_in_as(client, "analyst")
    _import(client, tmp_path, ROWS)
    for sort in ("revenue", "name", "uscc", "employees", "founded_on"):
        for desc in ("true", "false"):
            order = {"sort": sort, "desc": desc}
            whole = [
                r["uscc"]
                for r in client.get("/api/registry/search", params={**order, "size": 6}).json()[
                    "rows"
                ]
            ]
            seen: list[str] = []
            params: dict[str, str] = {**order, "size": "2"}
            for page in range(1, 4):
                answer = client.get(
                    "/api/registry/search", params={**params, "page": str(page)}
                ).json()
                seen += [r["uscc"] for r in answer["rows"]]
                if answer["next_after"] is None:
                    break
                params["after"] = str(answer["next_after"])
            assert seen == whole, order
    first = client.get("/registry/results", params={"size": "2", "sort": "name"}).text
    cursor = re.search(r'"page": "2",[^}]*"after": "(\d+)"', first)
    assert cursor, "下一页 continues after the last row shown"
    second = client.get(
        "/registry/results",
        params={"size": "2", "sort": "name", "page": "2", "after": cursor.group(1)},
    ).text
    assert "第 2 / 3 页" in second and re.findall(r'data-uscc="(\w+)"', second)[0] not in first


def test_deep_offset_pages_match_the_first_pass(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages beyond the one-pass window are sorted with an offset: the same rows, same order."""
    sign_in_as(client, "analyst")
    _import(client, tmp_path, ROWS)
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    context = RegistryContext.from_settings(settings)
    reader = context.reader()
    try:
        pages = [SearchQuery(sort="name", page=p, page_size=2) for p in (1, 2, 3)]
        shallow = [reader.search(q).rows for q in pages]
        monkeypatch.setattr("chanye.registry.queries.ONE_PASS_ROWS", 1)  # every page is "deep"
        deep = [reader.search(q).rows for q in pages]
    finally:
        reader.close()
    assert deep == shallow and sum(len(rows) for rows in deep) == 6


def test_a_chain_leaders_near_misses_are_theirs_only(
    client: TestClient,
    tmp_path: Path,
    registry: RegistryContext,  # noqa: F811
) -> None:
    publish(client)
    sign_in_as(client, "analyst")
    # 7: a consultancy (outside icv-nev) spending too little on R&D, like 5 inside it.
    _import(client, tmp_path, [row(7, **{"行业代码": "7310", "经营范围": "咨询服务", RD: "50"})])
    everyone = re.findall(
        r'data-uscc="(\w+)"', client.get("/policies/test-rd-reward/near-misses").text
    )
    in_scope = [u for u in everyone if _in_scope(client, u)]
    client.cookies.clear()
    _chain_leader(client)
    mine = re.findall(r'data-uscc="(\w+)"', client.get("/policies/test-rd-reward/near-misses").text)
    assert mine == in_scope and len(everyone) > len(in_scope)


def _publish_other(client: TestClient, text: str) -> None:
    saved = client.post("/policies/drafts", data={"text": text}, follow_redirects=False)
    draft = client.get(saved.headers["location"]).text
    version_id = re.search(r'action="/policies/versions/(\d+)/publish"', draft)
    assert version_id
    sign_in_as(client, "policy_office")  # the second person (双人复核)
    done = client.post(f"/policies/versions/{version_id.group(1)}/publish", follow_redirects=False)
    assert done.status_code == 303, done.text


def test_a_policys_exclusive_group_is_named_by_its_policies(
    client: TestClient,
    registry: RegistryContext,  # noqa: F811
) -> None:
    grouped = POLICY + "exclusive_group: rd-pool\n"
    publish(client, grouped)
    other = grouped.replace("test-rd-reward", "test-rd-bonus").replace(
        "测试研发投入奖励", "测试研发加计奖励"
    )
    _publish_other(client, other)
    client.cookies.clear()
    page = client.get("/policies/test-rd-reward").text
    assert "不重复享受：与“测试研发加计奖励”针对同一事项" in page and "rd-pool" not in page


FUTURE = "intelligent-unmanned-systems"  # a future industry, not a cluster


def test_a_future_industrys_chain_leader_sees_its_enterprises_on_every_page(
    client: TestClient, tmp_path: Path
) -> None:
    """Scope is decided on one field everywhere: an enterprise placed in a future industry (no
    cluster) is its chain leader's in the registry, the explanation and the near misses alike."""
    drone = row(7, **{"行业代码": "3963", "经营范围": "智能无人系统、环境感知与惯性导航", RD: "50"})
    sign_in_as(client, "analyst")
    _import(client, tmp_path, [*ROWS, drone])
    record = client.get(f"/api/registry/enterprises/{uscc(7)}").json()
    assert FUTURE in record["industries"] and FUTURE not in record["clusters"]
    publish(client)
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    sign_in(client, make_account(settings, "chain_leader", scope_clusters=[FUTURE]))
    assert client.get(f"/registry/enterprises/{uscc(7)}").status_code == 200
    assert client.get(f"/policies/test-rd-reward/explain/{uscc(7)}").status_code == 200
    misses = client.get("/policies/test-rd-reward/near-misses").text
    assert uscc(7) in misses and uscc(1) not in misses  # R&D too low; 1 is icv-nev's
    assert client.get(f"/policies/test-rd-reward/explain/{uscc(1)}").status_code == 404
