"""企业库: search, the enterprise profile, imports with progress and undo — and the same as JSON."""

from __future__ import annotations

import re
import shutil
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from chanye.beijing import today_in_beijing
from chanye.policy import workflow
from chanye.policy.service import rollback_consequence
from chanye.portal.accounts import display_names
from chanye.registry import history
from chanye.registry.changes import ChangeRefusedError, rollback
from chanye.registry.context import RegistryContext
from chanye.registry.importer import errors_path_for, errors_xlsx_for
from chanye.registry.indicators import INDICATORS
from chanye.registry.jobs import find_job
from chanye.registry.queries import MAX_PAGE_SIZE, SORT_KEYS, SearchQuery
from chanye.registry.schema import TAG_LABELS
from chanye.registry.scope import Scope
from chanye.registry.storage import RegistryBusyError
from chanye.store.models import RegistryChange
from chanye.web import workbench
from chanye.web.areas import Area, NavEntry, Permission
from chanye.web.auth import Viewer, requires
from chanye.web.confirm import Confirmation, ConfirmedField, confirmation_page
from chanye.web.confirm import confirmed as is_confirmed
from chanye.web.dependencies import SessionDep, SettingsDep, release_connection
from chanye.web.registry_state import ImportJobs, ReaderCache
from chanye.web.templating import templates

router = APIRouter(prefix="/registry", tags=["企业库"])
api = APIRouter(prefix="/api/registry", tags=["企业库"])
AREA = Area(
    "registry",
    router,
    Permission("registry", "read"),
    docs="routes.md",
    nav=NavEntry(
        "企业库", "全市经营主体名录：导入、校验、归类到产业集群与产业链环节，并支持检索。"
    ),
    api=api,
    cards=workbench.REGISTRY_CARDS,
)

TAG_NAMES = {tag: labels[0] for tag, labels in TAG_LABELS.items()}
ReadAccess = Annotated[Viewer, requires("registry", "read")]
OwnAccess = Annotated[Viewer, requires("registry", "own")]
WriteAccess = Annotated[Viewer, requires("registry", "write")]
MAX_PAGE = 1_000_000  # beyond any registry's last page at the smallest size; later pages are empty
SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]+")


def get_context(settings: SettingsDep, session: SessionDep) -> RegistryContext:
    return RegistryContext.from_settings(settings, session)


def get_readers(request: Request) -> ReaderCache:
    cache: ReaderCache = request.app.state.registry_readers
    return cache


def get_jobs(request: Request) -> ImportJobs:
    jobs: ImportJobs = request.app.state.import_jobs
    return jobs


ContextDep = Annotated[RegistryContext, Depends(get_context)]
ReadersDep = Annotated[ReaderCache, Depends(get_readers)]
JobsDep = Annotated[ImportJobs, Depends(get_jobs)]


def search_query(
    viewer: ReadAccess,
    q: Annotated[str | None, Query(description="Name fragment or USCC prefix")] = None,
    cluster: Annotated[str | None, Query(description="Industry id")] = None,
    link: Annotated[str | None, Query(description="Chain-link id")] = None,
    district: Annotated[str | None, Query(description="District code")] = None,
    tag: Annotated[str | None, Query(description="Tag id")] = None,
    min_revenue_wan: Annotated[str | None, Query(description="Revenue from, 万元")] = None,
    max_revenue_wan: Annotated[str | None, Query(description="Revenue up to, 万元")] = None,
    status: Annotated[str | None, Query(description="active or closed")] = None,
    sort: Annotated[str, Query(description=f"One of {', '.join(SORT_KEYS)}")] = "revenue",
    desc: Annotated[bool, Query(description="Descending order")] = True,
    page: Annotated[str, Query(description="Page number, from 1")] = "1",
    size: Annotated[str, Query(description=f"Rows a page, 1 to {MAX_PAGE_SIZE}")] = "20",
    after: Annotated[
        str | None, Query(description="Keyset cursor: the previous page's next_after")
    ] = None,
) -> SearchQuery:
    return SearchQuery(
        text=q or None,
        cluster=cluster or None,
        chain_link=link or None,
        district=district or None,
        tag=tag or None,
        min_revenue=_wan_to_yuan(min_revenue_wan, "最低营业收入"),
        max_revenue=_wan_to_yuan(max_revenue_wan, "最高营业收入"),
        status=status if status in ("active", "closed") else None,
        sort=sort if sort in SORT_KEYS else "revenue",
        descending=desc,
        page=_whole(page, "页码", 1, MAX_PAGE),
        page_size=_whole(size, "每页条数", 1, MAX_PAGE_SIZE),
        after=_whole(after, "翻页位置", 0, MAX_PAGE * MAX_PAGE_SIZE) if after else None,
        scope=viewer.scope,
    )


def _whole(value: str, label: str, low: int, high: int) -> int:
    """A whole number from the query string within [low, high], or a 400 saying which field."""
    text = value.strip()
    number = int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else None
    if number is None or not low <= number <= high:
        raise HTTPException(400, f"{label}应为 {low} 到 {high:,} 之间的整数（收到“{value[:20]}”）")
    return number


def _wan_to_yuan(value: str | None, label: str) -> float | None:
    """A form's amount in 万元 (an empty box means no limit) in yuan."""
    if value is None or not value.strip():
        return None
    try:
        amount = float(value)
    except ValueError:
        raise HTTPException(400, f"{label}应为数字（万元）") from None
    if amount < 0:
        raise HTTPException(400, f"{label}不能为负数")
    return amount * 1e4


QueryDep = Annotated[SearchQuery, Depends(search_query)]


def _page_context(context: RegistryContext, scope: Scope | None = None) -> dict[str, Any]:
    system = context.system
    shown = scope or Scope.all()
    names = {ind.id: ind.name for _, ind in system.industries()}
    return {
        "system": system,
        "scope": shown,
        "scope_names": [names[i] for i in shown.industries if i in names],
        # The industries this viewer may search in, by kind (a chain leader: only their own).
        "industry_groups": [
            (kind, [ind for ind in group if shown.shows_industry(ind.id)])
            for kind, group in (
                ("战略性产业集群", system.clusters),
                ("未来产业", system.future_industries),
                ("现代服务业", system.service_industries),
            )
        ],
        "districts": {d.code: d.name for d in system.districts},
        "industry_names": names,
        "link_names": {lk.id: lk.name for _, ind in system.industries() for lk in ind.links},
        "tag_names": TAG_NAMES,
        "active": "registry",
    }


# --- search -------------------------------------------------------------------------------------


def _render_search(
    request: Request, query: SearchQuery, context: RegistryContext, readers: ReaderCache, page: bool
) -> HTMLResponse:
    """The whole search page, or (for HTMX) only its results, for one query."""
    with readers.reader(context) as reader:
        results = reader.search(query)
        in_scope = reader.count(query.scope)
        empty = in_scope == 0 and (query.scope.everything or reader.count() == 0)
    values = {
        **_page_context(context, query.scope),
        "results": results,
        "query": query,
        "registry_total": in_scope,
        "registry_empty": empty,
    }
    template = "registry/search.html" if page else "registry/_results.html"
    return templates.TemplateResponse(request, template, values)


@router.get("", response_class=HTMLResponse, summary="Enterprise search page")
def registry_page(
    request: Request, query: QueryDep, context: ContextDep, readers: ReadersDep
) -> HTMLResponse:
    return _render_search(request, query, context, readers, page=True)


@router.get("/results", response_class=HTMLResponse, summary="Search results (HTMX)")
def registry_results(
    request: Request, query: QueryDep, context: ContextDep, readers: ReadersDep
) -> HTMLResponse:
    response = _render_search(request, query, context, readers, page=False)
    # The address bar shows the full page for this search, so that it can be bookmarked.
    response.headers["HX-Push-Url"] = f"/registry?{request.url.query}"
    return response


@router.get("/links", response_class=HTMLResponse, summary="Chain-link options (HTMX)")
def link_options(
    request: Request, context: ContextDep, viewer: ReadAccess, cluster: str | None = None
) -> HTMLResponse:
    industry = context.system.industry(cluster) if cluster else None
    return templates.TemplateResponse(
        request, "registry/_link_options.html", {"links": industry.links if industry else []}
    )


@api.get("/search", summary="Search enterprises (JSON)")
def search_json(query: QueryDep, context: ContextDep, readers: ReadersDep) -> dict[str, Any]:
    with readers.reader(context) as reader:
        results = reader.search(query)
    return {
        "total": results.total,
        "page": query.page,
        "pages": results.pages,
        "next_after": results.next_after,
        "rows": results.rows,
    }


@api.get("/stats", summary="Registry statistics (JSON)")
def stats_json(context: ContextDep, readers: ReadersDep, viewer: ReadAccess) -> dict[str, Any]:
    with readers.reader(context) as reader:
        return reader.stats(viewer.scope)


# --- one enterprise -----------------------------------------------------------------------------


def _enterprise_or_404(
    context: RegistryContext, readers: ReaderCache, uscc: str, viewer: Viewer
) -> dict[str, Any]:
    """The record, if this viewer may see it: an enterprise only its own (once its binding is
    verified), a chain leader only those in their industries (``chanye.registry.scope``). A record one may not see answers 404
    like a missing one, so that probing does not reveal which enterprises exist."""
    record = None
    if viewer.scope.admits_uscc(uscc):
        with readers.reader(context) as reader:
            record = reader.show(uscc, context.facts())
    if record is None or not viewer.scope.admits_record(record):
        raise HTTPException(404, f"企业库中没有统一社会信用代码为“{uscc}”的企业")
    return record


@router.get("/enterprises/{uscc}", response_class=HTMLResponse, summary="Enterprise profile")
def enterprise_page(
    request: Request,
    uscc: str,
    context: ContextDep,
    readers: ReadersDep,
    session: SessionDep,
    viewer: OwnAccess,
) -> HTMLResponse:
    record = _enterprise_or_404(context, readers, uscc, viewer)
    return templates.TemplateResponse(
        request,
        "registry/enterprise.html",
        {
            **_page_context(context),
            "e": record,
            "grounds": evidence_by_industry(record["evidence"]),
            "years": sorted({y for values in record["history"].values() for y in values}),
            "indicators": INDICATORS,
            "qualification_names": {k.id: k.label for k in context.system.qualification_kinds},
            "today": today_in_beijing().isoformat(),
            # 免申即享: what the policies in force found for this enterprise.
            "pushes": workflow.pushes_for(session, record["uscc"]),
            "push_labels": workflow.PUSH_LABELS,
        },
    )


def evidence_by_industry(evidence: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each code or keyword once per industry, with the chain links it placed the enterprise on."""
    grouped: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for item in evidence:
        entry = grouped.setdefault(item["industry"], {}).setdefault(
            (item["via"], item["value"]), {"via": item["via"], "value": item["value"], "links": []}
        )
        if item["link"] and item["link"] not in entry["links"]:
            entry["links"].append(item["link"])
    return {industry: list(items.values()) for industry, items in grouped.items()}


@api.get("/enterprises/{uscc}", summary="One enterprise with classification (JSON)")
def enterprise_json(
    uscc: str, context: ContextDep, readers: ReadersDep, session: SessionDep, viewer: OwnAccess
) -> dict[str, Any]:
    return _enterprise_or_404(context, readers, uscc, viewer)


# --- imports ------------------------------------------------------------------------------------


@router.get("/imports", response_class=HTMLResponse, summary="Import page and history")
def imports_page(
    request: Request, session: SessionDep, context: ContextDep, viewer: WriteAccess
) -> HTMLResponse:
    changes = history.recent_changes(session, limit=None)
    return templates.TemplateResponse(
        request,
        "registry/imports.html",
        {
            **_page_context(context),
            "changes": changes,
            "message": request.query_params.get("message"),
            "names": display_names(session, [c.actor for c in changes]),
            "has_errors": {
                c.id: bool(c.file_name and errors_path_for(Path(c.file_name)).exists())
                for c in changes
            },
        },
    )


@router.post("/imports", summary="Upload a file and start importing it")
def start_import(
    settings: SettingsDep,
    session: SessionDep,
    jobs: JobsDep,
    viewer: WriteAccess,
    file: Annotated[UploadFile, File(description="CSV, XLSX or Parquet")],
    strict: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    name = SAFE_NAME.sub("_", Path(file.filename or "upload.csv").name)[-120:]
    if Path(name).suffix.lower() not in (".csv", ".txt", ".xlsx", ".xlsm", ".parquet"):
        raise HTTPException(400, "只接受 CSV、XLSX 或 Parquet 文件")
    folder = settings.registry_uploads_dir / uuid.uuid4().hex
    folder.mkdir(parents=True)
    target = folder / name
    limit = settings.max_upload_mb * 2**20
    written = 0
    try:
        with target.open("wb") as out:
            while chunk := file.file.read(1 << 22):
                written += len(chunk)
                if written > limit:
                    break
                out.write(chunk)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # nothing of a broken upload is kept
        raise
    if written > limit:
        shutil.rmtree(folder, ignore_errors=True)
        raise HTTPException(413, f"文件超过 {settings.max_upload_mb} MB 上限")
    job_id = jobs.start(session, settings, target, name, viewer.actor, strict)
    return RedirectResponse(f"/registry/imports/jobs/{job_id}", status_code=303)


@router.get("/imports/jobs/{job_id}", response_class=HTMLResponse, summary="Import progress page")
def job_page(
    request: Request, job_id: str, session: SessionDep, context: ContextDep, viewer: WriteAccess
) -> HTMLResponse:
    job = find_job(session, job_id)
    if job is None:
        raise HTTPException(404, "没有这个导入任务，请查看导入历史")
    return templates.TemplateResponse(
        request, "registry/job.html", {**_page_context(context), "job": job}
    )


@router.get(
    "/imports/jobs/{job_id}/progress",
    response_class=HTMLResponse,
    summary="Import progress (HTMX)",
)
def job_progress(
    request: Request, job_id: str, session: SessionDep, viewer: WriteAccess
) -> HTMLResponse:
    job = find_job(session, job_id)
    if job is None:
        raise HTTPException(404, "没有这个导入任务")
    return templates.TemplateResponse(request, "registry/_progress.html", {"job": job})


@router.get("/changes/{change_id}/errors.xlsx", summary="Rejected rows of an import as XLSX")
def errors_xlsx(change_id: int, session: SessionDep, viewer: WriteAccess) -> Response:
    change = session.get(RegistryChange, change_id)
    report = errors_path_for(Path(change.file_name)) if change and change.file_name else None
    if report is None or not report.exists():
        raise HTTPException(404, f"第 {change_id} 号导入没有错误报告")
    return FileResponse(
        errors_xlsx_for(report),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="import-{change_id}-errors.xlsx"'},
    )


@router.post(
    "/changes/{change_id}/rollback",
    summary="Undo a change (redo, for an undo): first the consequence, then with confirmed=yes",
    response_model=None,
)
def undo_change(
    request: Request,
    change_id: int,
    context: ContextDep,
    session: SessionDep,
    viewer: WriteAccess,
    confirmed: ConfirmedField = "",
    in_force: Annotated[int | None, Form()] = None,
) -> RedirectResponse | HTMLResponse:
    # The consequence, the undo and the re-match it sets off open sessions of their own: hand
    # this one back.
    release_connection(session)
    context = replace(context, session=None)
    try:
        if not is_confirmed(confirmed):
            return _undo_confirmation(request, context, change_id)
        result = rollback(context.database_url, context.paths, change_id, viewer.actor, in_force)
    except (ChangeRefusedError, RegistryBusyError) as exc:
        message = str(exc)
    else:
        message = f"已撤销第 {'、'.join(map(str, result.undone))} 次变更"
        if result.revived:
            message += f"，第 {'、'.join(map(str, result.revived))} 次变更重新生效"
        message += f"，企业库现有 {result.total_after:,} 家企业"
    return RedirectResponse(f"/registry/imports?{_qs(message=message)}", status_code=303)


def _undo_confirmation(request: Request, context: RegistryContext, change_id: int) -> HTMLResponse:
    plan = rollback_consequence(context, change_id)
    redo = plan.kind == "rollback"
    return confirmation_page(
        request,
        Confirmation(
            title=f"确认{'重做' if redo else '撤销'}第 {change_id} 次变更",
            consequence=plan.sentence(),
            action=f"/registry/changes/{change_id}/rollback",
            button="确认重做" if redo else "确认撤销",
            back="/registry/imports",
            fields={"in_force": str(plan.in_force)},
            details=[
                "撤销本身也记入导入历史，可以再撤销（重做）。",
                "撤销后已发布的政策按企业库重新匹配，不再符合条件且未处理的推送自动撤回。",
            ],
        ),
        "registry",
    )


def _qs(**params: str) -> str:
    from urllib.parse import urlencode

    return urlencode(params)
