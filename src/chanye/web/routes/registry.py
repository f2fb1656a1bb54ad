"""企业库: search, the enterprise profile, imports with progress and undo — and the same as JSON."""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from chanye.policy import workflow
from chanye.policy.service import rerun_after_registry_change
from chanye.registry.changes import ChangeRefusedError, rollback
from chanye.registry.context import RegistryContext
from chanye.registry.importer import errors_path_for, errors_xlsx_for
from chanye.registry.queries import SORT_KEYS, SearchQuery
from chanye.registry.schema import TAG_LABELS
from chanye.registry.storage import RegistryBusyError
from chanye.store.models import RegistryChange
from chanye.web.auth import Viewer, requires
from chanye.web.dependencies import SessionDep, SettingsDep
from chanye.web.registry_state import ImportJobs, ReaderCache
from chanye.web.templating import templates

router = APIRouter()

TAG_NAMES = {tag: labels[0] for tag, labels in TAG_LABELS.items()}
ReadAccess = Annotated[Viewer, requires("registry", "read")]
OwnAccess = Annotated[Viewer, requires("registry", "own")]
WriteAccess = Annotated[Viewer, requires("registry", "write")]
SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]+")


def get_context(settings: SettingsDep) -> RegistryContext:
    return RegistryContext.from_settings(settings)


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
    page: Annotated[int, Query(ge=1)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> SearchQuery:
    return SearchQuery(
        text=q or None, cluster=cluster or None, chain_link=link or None,
        district=district or None, tag=tag or None,
        min_revenue=_wan_to_yuan(min_revenue_wan, "最低营业收入"),
        max_revenue=_wan_to_yuan(max_revenue_wan, "最高营业收入"),
        status=status if status in ("active", "closed") else None, sort=sort if sort in SORT_KEYS else "revenue",
        descending=desc, page=page, page_size=size, within=viewer.scope,
    )  # fmt: skip


def _wan_to_yuan(value: str | None, label: str) -> float | None:
    """A form's amount in 万元 (an empty box means no limit) in yuan."""
    if value is None or not value.strip():
        return None
    try:
        amount = float(value)
    except ValueError:
        raise HTTPException(400, f"{label}应为数字（万元）/ {label} must be a number") from None
    if amount < 0:
        raise HTTPException(400, f"{label}不能为负数 / must not be negative")
    return amount * 1e4


QueryDep = Annotated[SearchQuery, Depends(search_query)]


def _page_context(context: RegistryContext) -> dict[str, Any]:
    system = context.system
    return {
        "system": system,
        "districts": {d.code: d.name for d in system.districts},
        "industry_names": {ind.id: ind.name for _, ind in system.industries()},
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
        total = reader.count()
    values = {**_page_context(context), "results": results, "query": query, "registry_total": total}
    template = "registry/search.html" if page else "registry/_results.html"
    return templates.TemplateResponse(request, template, values)


@router.get("/registry", response_class=HTMLResponse, summary="Enterprise search page")
def registry_page(
    request: Request, query: QueryDep, context: ContextDep, readers: ReadersDep
) -> HTMLResponse:
    return _render_search(request, query, context, readers, page=True)


@router.get("/registry/results", response_class=HTMLResponse, summary="Search results (HTMX)")
def registry_results(
    request: Request, query: QueryDep, context: ContextDep, readers: ReadersDep
) -> HTMLResponse:
    response = _render_search(request, query, context, readers, page=False)
    # The address bar shows the full page for this search, so that it can be bookmarked.
    response.headers["HX-Push-Url"] = f"/registry?{request.url.query}"
    return response


@router.get("/registry/links", response_class=HTMLResponse, summary="Chain-link options (HTMX)")
def link_options(
    request: Request, context: ContextDep, viewer: ReadAccess, cluster: str | None = None
) -> HTMLResponse:
    industry = context.system.industry(cluster) if cluster else None
    return templates.TemplateResponse(
        request, "registry/_link_options.html", {"links": industry.links if industry else []}
    )


@router.get("/api/registry/search", summary="Search enterprises (JSON)")
def search_json(query: QueryDep, context: ContextDep, readers: ReadersDep) -> dict[str, Any]:
    with readers.reader(context) as reader:
        results = reader.search(query)
    return {
        "total": results.total,
        "page": query.page,
        "pages": results.pages,
        "rows": results.rows,
    }


@router.get("/api/registry/stats", summary="Registry statistics (JSON)")
def stats_json(context: ContextDep, readers: ReadersDep, viewer: ReadAccess) -> dict[str, Any]:
    with readers.reader(context) as reader:
        stats = reader.stats()
    if viewer.scope:  # a chain leader sees the figures of their own clusters only
        stats["by_cluster"] = {k: v for k, v in stats["by_cluster"].items() if k in viewer.scope}
    return stats


# --- one enterprise -----------------------------------------------------------------------------


def _enterprise_or_404(
    context: RegistryContext, readers: ReaderCache, uscc: str, viewer: Viewer
) -> dict[str, Any]:
    """The record, if this viewer may see it: an enterprise only its own, a chain leader only
    those in their clusters. A record one may not see answers 404 like a missing one, so that
    probing does not reveal which enterprises exist."""
    record = None
    if _may_see(viewer, uscc):
        with readers.reader(context) as reader:
            record = reader.show(uscc)
    if record is not None and viewer.scope and not set(record["industries"]) & set(viewer.scope):
        record = None
    if record is None:
        raise HTTPException(
            404, f"企业库中没有统一社会信用代码为“{uscc}”的企业 / no enterprise {uscc}"
        )
    return record


def _may_see(viewer: Viewer, uscc: str) -> bool:
    if viewer.may("registry", "read"):
        return True
    own = viewer.account.enterprise_uscc if viewer.account else None
    return own is not None and own == uscc.upper()


@router.get(
    "/registry/enterprises/{uscc}", response_class=HTMLResponse, summary="Enterprise profile"
)
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


@router.get("/api/registry/enterprises/{uscc}", summary="One enterprise with classification (JSON)")
def enterprise_json(
    uscc: str, context: ContextDep, readers: ReadersDep, viewer: OwnAccess
) -> dict[str, Any]:
    return _enterprise_or_404(context, readers, uscc, viewer)


# --- imports ------------------------------------------------------------------------------------


@router.get("/registry/imports", response_class=HTMLResponse, summary="Import page and history")
def imports_page(
    request: Request, session: SessionDep, context: ContextDep, viewer: WriteAccess
) -> HTMLResponse:
    changes = session.scalars(select(RegistryChange).order_by(RegistryChange.id.desc())).all()
    return templates.TemplateResponse(
        request, "registry/imports.html",
        {**_page_context(context), "changes": changes, "message": request.query_params.get("message"),
         "has_errors": {c.id: bool(c.file_name and errors_path_for(Path(c.file_name)).exists()) for c in changes}},
    )  # fmt: skip


@router.post("/registry/imports", summary="Upload a file and start importing it")
def start_import(
    settings: SettingsDep,
    jobs: JobsDep,
    viewer: WriteAccess,
    file: Annotated[UploadFile, File(description="CSV, XLSX or Parquet")],
    strict: Annotated[bool, Form()] = False,
) -> RedirectResponse:
    name = SAFE_NAME.sub("_", Path(file.filename or "upload.csv").name)[-120:]
    if Path(name).suffix.lower() not in (".csv", ".txt", ".xlsx", ".xlsm", ".parquet"):
        raise HTTPException(400, "只接受 CSV、XLSX 或 Parquet 文件 / CSV, XLSX or Parquet only")
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
        raise HTTPException(
            413, f"文件超过 {settings.max_upload_mb} MB 上限 / file larger than the limit"
        )
    job = jobs.start(settings, target, name, viewer.actor, strict)
    return RedirectResponse(f"/registry/imports/jobs/{job.id}", status_code=303)


@router.get(
    "/registry/imports/jobs/{job_id}", response_class=HTMLResponse, summary="Import progress page"
)
def job_page(
    request: Request, job_id: str, jobs: JobsDep, context: ContextDep, viewer: WriteAccess
) -> HTMLResponse:
    job = jobs.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, "没有这个导入任务（服务重启后任务记录会清空，请查看导入历史）")
    return templates.TemplateResponse(
        request, "registry/job.html", {**_page_context(context), "job": job}
    )


@router.get(
    "/registry/imports/jobs/{job_id}/progress",
    response_class=HTMLResponse,
    summary="Import progress (HTMX)",
)
def job_progress(request: Request, job_id: str, jobs: JobsDep, viewer: WriteAccess) -> HTMLResponse:
    job = jobs.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, "没有这个导入任务")
    return templates.TemplateResponse(request, "registry/_progress.html", {"job": job})


@router.get(
    "/registry/changes/{change_id}/errors.xlsx", summary="Rejected rows of an import as XLSX"
)
def errors_xlsx(change_id: int, session: SessionDep, viewer: WriteAccess) -> Response:
    change = session.get(RegistryChange, change_id)
    report = errors_path_for(Path(change.file_name)) if change and change.file_name else None
    if report is None or not report.exists():
        raise HTTPException(404, f"第 {change_id} 号导入没有错误报告 / no error report")
    return FileResponse(
        errors_xlsx_for(report),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="import-{change_id}-errors.xlsx"'},
    )


@router.post("/registry/changes/{change_id}/rollback", summary="Undo an import")
def undo_change(change_id: int, context: ContextDep, viewer: WriteAccess) -> RedirectResponse:
    try:
        result = rollback(context.database_url, context.paths, change_id, viewer.actor)
    except (ChangeRefusedError, RegistryBusyError) as exc:
        message = str(exc)
    else:
        rerun_after_registry_change(context, viewer.actor)
        message = f"已撤销第 {'、'.join(map(str, result.undone))} 号变更，企业库现有 {result.total_after} 家企业"
    return RedirectResponse(f"/registry/imports?{_qs(message=message)}", status_code=303)


def _qs(**params: str) -> str:
    from urllib.parse import urlencode

    return urlencode(params)
