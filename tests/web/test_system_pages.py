"""The 产业体系 pages and API, through the app."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from chanye.system.loader import load_default_system

SYSTEM = load_default_system()


def test_home_links_to_the_overview(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200 and 'href="/system"' in response.text


def test_overview_shows_structure_targets_and_accountability(client: TestClient) -> None:
    page = client.get("/system")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="zh-CN">' in html
    for cluster in SYSTEM.clusters:
        assert f'href="/industries/{cluster.id}"' in html and cluster.name in html
    for text in (
        "产业第一、制造业立市",
        "4万亿元",
        "6万亿元",
        "8.4%",
        "智能汽车产业发展办公室",
        "广州市工业和信息化局",
        "待核实",
        "人民日报",
    ):
        assert text in html, text
    assert 'id="system-chart"' in html and 'data-src="/api/system"' in html


def test_tier_filter_returns_only_that_tier(client: TestClient) -> None:
    rows = client.get("/system/clusters", params={"tier": "strategic-leading"}).text
    ids = re.findall(r'data-cluster="([a-z0-9-]+)"', rows)
    assert ids == [
        "ai",
        "semiconductor-ic",
        "new-energy-storage",
        "low-altitude-aerospace",
        "bio-manufacturing",
    ]
    assert len(re.findall(r"data-cluster=", client.get("/system/clusters").text)) == 15
    assert client.get("/system/clusters", params={"tier": "nope"}).status_code == 404


def test_cluster_page_shows_its_chain(client: TestClient) -> None:
    cluster = SYSTEM.industry("icv-nev")
    assert cluster is not None
    html = client.get("/industries/icv-nev").text
    for label in ("上游", "中游", "下游", "万亿级", "3612 新能源车整车制造"):
        assert label in html
    for link in cluster.links:
        assert f'id="link-{link.id}"' in html and link.name in html


def test_every_industry_has_a_page(client: TestClient) -> None:
    for _, industry in SYSTEM.industries():
        response = client.get(f"/industries/{industry.id}")
        assert response.status_code == 200 and industry.name in response.text


def test_unknown_industry_is_a_chinese_404(client: TestClient) -> None:
    page = client.get("/industries/flying-cars")
    assert page.status_code == 404 and "页面不存在" in page.text and "flying-cars" in page.text
    api = client.get("/api/industries/flying-cars")
    assert api.status_code == 404 and "flying-cars" in api.json()["detail"]


def test_api_gives_the_system_and_one_industry(client: TestClient) -> None:
    data = client.get("/api/system").json()
    assert [c["id"] for c in data["clusters"]] == [c.id for c in SYSTEM.clusters]
    ai = client.get("/api/industries/ai").json()
    assert ai["tier_name"] == "战略先导产业" and ai["accountability"]["office_name"]


def test_chains_index_lists_every_chain(client: TestClient) -> None:
    html = client.get("/chains").text
    for industry in [*SYSTEM.clusters, *SYSTEM.future_industries]:
        assert f"/industries/{industry.id}?from=chains" in html
