"""Data-level access to the registry: an enterprise sees only its own record, a chain leader only
the industries assigned to them, other staff everything; what one may not see answers 404."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.registry.factory import row, uscc
from tests.web.signin import make_account, sign_in, sign_in_as
from tests.web.test_registry_pages import _import

BATTERY = 1  # 3841 + battery scope: 智能网联与新能源汽车 (icv-nev)
SOFTWARE = 2  # 6513 application software: not an automotive enterprise


def _registry(client: TestClient, tmp_path: Path) -> None:
    sign_in_as(client, "analyst")
    _import(
        client,
        tmp_path,
        [row(BATTERY), row(SOFTWARE, **{"行业代码": "6513", "经营范围": "应用软件开发"})],
    )
    client.cookies.clear()


def test_enterprise_sees_only_its_own_record(client: TestClient, tmp_path: Path) -> None:
    _registry(client, tmp_path)
    sign_in_as(client, "enterprise", enterprise_uscc=uscc(BATTERY))
    assert client.get(f"/registry/enterprises/{uscc(BATTERY)}").status_code == 200
    assert client.get(f"/api/registry/enterprises/{uscc(BATTERY)}").json()["uscc"] == uscc(BATTERY)
    assert client.get(f"/registry/enterprises/{uscc(SOFTWARE)}").status_code == 404
    assert client.get(f"/api/registry/enterprises/{uscc(SOFTWARE)}").status_code == 404
    assert client.get("/api/registry/search").status_code == 403  # no browsing the registry


def test_chain_leader_sees_only_assigned_industries(client: TestClient, tmp_path: Path) -> None:
    _registry(client, tmp_path)
    settings = client.app.state.settings  # type: ignore[attr-defined]
    sign_in(client, make_account(settings, "chain_leader", scope_clusters=["icv-nev"]))
    found = client.get("/api/registry/search").json()
    assert [r["uscc"] for r in found["rows"]] == [uscc(BATTERY)]
    assert client.get(f"/registry/enterprises/{uscc(SOFTWARE)}").status_code == 404
    assert client.get(f"/registry/enterprises/{uscc(BATTERY)}").status_code == 200
    stats = client.get("/api/registry/stats").json()
    assert set(stats["by_cluster"]) <= {"icv-nev"}
    assert client.get("/registry/imports").status_code == 403


def test_other_staff_see_everything_but_cannot_import(client: TestClient, tmp_path: Path) -> None:
    _registry(client, tmp_path)
    sign_in_as(client, "investment")
    assert client.get("/api/registry/search").json()["total"] == 2
    assert client.post("/registry/changes/1/rollback", follow_redirects=False).status_code == 403
