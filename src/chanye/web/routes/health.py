"""Health check for load balancers and operators."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from chanye.store.migrate import current_revision, head_revision
from chanye.web.areas import Area
from chanye.web.auth import open_access
from chanye.web.dependencies import SettingsDep
from chanye.web.paths import STATIC_DIR

router = APIRouter(prefix="/healthz", tags=["运行状态"], dependencies=[open_access()])
AREA = Area("health", router, None, docs="routes.md")

VENDOR_ASSETS = ("echarts.min.js", "htmx.min.js", "swagger-ui-bundle.js", "swagger-ui.css")


@router.get("", summary="Health: database reachable, schema current, assets present")
def healthz(settings: SettingsDep) -> JSONResponse:
    url = settings.resolved_database_url
    body: dict[str, Any] = {"status": "ok"}
    try:
        body["schema"] = current_revision(url)
        body["schema_head"] = head_revision(url)
        body["database"] = "ok"
    except SQLAlchemyError as exc:
        body["database"] = f"error: {exc.__class__.__name__}"
    missing = [name for name in VENDOR_ASSETS if not (STATIC_DIR / "vendor" / name).exists()]
    body["missing_assets"] = missing
    healthy = body["database"] == "ok" and body["schema"] == body["schema_head"] and not missing
    body["status"] = "ok" if healthy else "degraded"
    return JSONResponse(body, status_code=200 if healthy else 503)
