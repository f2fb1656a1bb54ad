"""Administration: the audit log (审计日志) — search, the hash-chain check, CSV and Excel exports.

Only administrators (``audit:read``). Looking at the log and exporting it are themselves audited,
with the filter used.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from chanye.beijing import BEIJING
from chanye.portal import audit_search
from chanye.portal.audit_search import AuditFilter, FilterError
from chanye.portal.roles import ROLE_LABELS
from chanye.store.audit import record, verify_chain
from chanye.store.models import utcnow
from chanye.web.areas import Area, Permission
from chanye.web.auth import Viewer, requires
from chanye.web.dependencies import SessionDep
from chanye.web.templating import templates

router = APIRouter(prefix="/admin", tags=["审计日志"])
AREA = Area("admin", router, Permission("audit", "read"), docs="routes.md", nav=None)

AuditRead = Annotated[Viewer, requires("audit", "read")]
Text = Annotated[str, Query(max_length=audit_search.TEXT_LIMIT)]
DateText = Annotated[str, Query(max_length=20)]
SHOWN_BROKEN_IDS = 50
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def audit_form(
    actor: Text = "",
    role: Text = "",
    action: Text = "",
    object_type: Text = "",
    object_id: Text = "",
    result: Text = "",
    client_addr: Text = "",
    since: DateText = "",
    until: DateText = "",
) -> dict[str, str]:
    """The search form's fields, as typed (the page shows them back; the exports use them too)."""
    return {
        "actor": actor,
        "role": role,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "result": result,
        "client_addr": client_addr,
        "since": since,
        "until": until,
    }


AuditForm = Annotated[dict[str, str], Depends(audit_form)]


@router.get("/audit", response_class=HTMLResponse, summary="Audit log: search, chain check")
def audit_page(
    request: Request,
    db: SessionDep,
    viewer: AuditRead,
    form: AuditForm,
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> HTMLResponse:
    try:
        flt = audit_search.make_filter(**form)
    except FilterError as refused:
        return _page(request, {"form": form, "error": str(refused), "found": None}, 400)
    found = audit_search.search(db, flt, page)
    broken = verify_chain(db)
    context = {
        "form": form,
        "found": found,
        "broken": broken[:SHOWN_BROKEN_IDS],
        "broken_count": len(broken),
        "retention": audit_search.retention(db),
        "query": flt.as_params(),
    }
    # After the search, so the page shows the log as it was asked for.
    record(
        db,
        viewer.actor,
        "audit.view",
        "audit_log",
        None,
        after={"filter": flt.as_params(), "page": found.page},
    )
    return _page(request, context)


def _page(request: Request, context: dict[str, Any], status: int = 200) -> HTMLResponse:
    context = {
        "active": None,
        "role_labels": ROLE_LABELS,
        "result_labels": audit_search.RESULT_LABELS,
        "error": None,
        "retention_days": audit_search.RETENTION_DAYS,
        "export_limit": audit_search.EXPORT_LIMIT,
        **context,
    }
    return templates.TemplateResponse(request, "admin/audit.html", context, status_code=status)


def _download(content: bytes, media_type: str, extension: str) -> Response:
    stamp = utcnow().astimezone(BEIJING).strftime("%Y%m%d-%H%M%S")
    return Response(
        content,
        media_type=media_type,
        headers={
            "Content-Disposition": f'attachment; filename="audit-log-{stamp}.{extension}"',
            "Cache-Control": "no-store",
        },
    )


def export_filter(form: AuditForm) -> AuditFilter:
    """The page's filter, for the exports (a bad date answers 400 naming it)."""
    try:
        return audit_search.make_filter(**form)
    except FilterError as refused:
        raise HTTPException(400, str(refused)) from None


ExportFilter = Annotated[AuditFilter, Depends(export_filter)]
EXPORTERS = {
    "csv": (audit_search.export_csv, "text/csv; charset=utf-8"),
    "xlsx": (audit_search.export_xlsx, XLSX_TYPE),
}


def _export(db: Session, viewer: Viewer, flt: AuditFilter, extension: str) -> Response:
    export, media_type = EXPORTERS[extension]
    content = export(db, flt, audit_search.EXPORT_LIMIT)
    record(
        db,
        viewer.actor,
        "audit.export",
        "audit_log",
        None,
        after={"filter": flt.as_params(), "format": extension},
    )
    return _download(content, media_type, extension)


@router.get("/audit.csv", summary="Audit log as CSV (same filters)")
def audit_csv(db: SessionDep, viewer: AuditRead, flt: ExportFilter) -> Response:
    return _export(db, viewer, flt, "csv")


@router.get("/audit.xlsx", summary="Audit log as Excel (same filters)")
def audit_xlsx(db: SessionDep, viewer: AuditRead, flt: ExportFilter) -> Response:
    return _export(db, viewer, flt, "xlsx")
