"""The web shell: navigation, areas to come, health, docs, assets and security headers."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from chanye.config import Settings
from chanye.store.migrate import upgrade
from chanye.web.app import AREAS, create_app

PUBLIC_NAV = ["产业体系", "政策", "产业链", "项目", "会员", "培训", "新闻"]


def _nav_labels(html: str) -> list[str]:
    bar = html[html.index('<ul class="nav">') : html.index("</ul>")]
    return re.findall(r">([^<>]+)</a>", bar)


def test_anonymous_navigation_offers_only_public_areas(client: TestClient) -> None:
    html = client.get("/system").text
    assert _nav_labels(html) == PUBLIC_NAV  # no 企业库 for a visitor who may not open it
    for area in AREAS:
        if area.nav is not None and area.nav.label in PUBLIC_NAV:
            assert f'href="{area.entry}"' in html


def test_areas_to_come_say_so_plainly(client: TestClient) -> None:
    for area in AREAS:
        if area.nav is None or not area.nav.coming:
            continue
        html = client.get(area.entry).text
        assert "建设中" in html and "不展示任何示例数据" in html, area.entry
        assert "<table" not in html, area.entry


def test_health_reports_database_schema_and_assets(tmp_path: Path, database_url: str) -> None:
    settings = Settings(data_dir=tmp_path, database_url=database_url)
    upgrade(database_url)
    with TestClient(create_app(settings)) as client:
        response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["schema"] == body["schema_head"] and body["missing_assets"] == []


def test_health_is_degraded_before_migrations(settings: Settings) -> None:
    with TestClient(create_app(settings)) as fresh:
        response = fresh.get("/healthz")
    assert response.status_code == 503 and response.json()["status"] == "degraded"


def test_openapi_and_local_docs(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/system" in spec["paths"]
    docs = client.get("/docs").text
    assert "/static/vendor/swagger-ui-bundle.js" in docs
    assert "http" not in re.sub(r'data-openapi-url="[^"]*"', "", docs).replace("http-equiv", "")


def test_assets_are_served_locally(client: TestClient) -> None:
    for asset in (
        "vendor/echarts.min.js",
        "vendor/htmx.min.js",
        "js/system-chart.js",
        "css/chanye.css",
    ):
        response = client.get(f"/static/{asset}")
        assert response.status_code == 200 and len(response.content) > 100, asset
    for page in ("/system", "/industries/ai", "/docs"):
        html = client.get(page).text
        assert not re.search(r'(src|href)="(https?:)?//', html), page


def test_no_inline_script_and_strict_headers(client: TestClient) -> None:
    for page in ("/system", "/industries/icv-nev", "/docs", "/registry", "/nope"):
        response = client.get(page)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", response.text), page
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
