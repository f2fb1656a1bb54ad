"""政策: the public policy library, what-if simulation, explanations and near misses for staff,
an enterprise's 免申即享 pushes (确认享受 / 放弃), and for the policy office drafts, publishing,
re-runs and the disbursement list.

Thin: versions, runs, pushes and decisions are ``chanye.policy.workflow``'s (instalments, payments
and mail its neighbours'); evaluation is the policy engine's, over the process's one population
(``population_of``: loaded once per registry state and day).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from chanye.beijing import today_in_beijing
from chanye.config import Settings
from chanye.policy import applications, instalment_plans, instalments, notices, payments, workflow
from chanye.policy.explain import OUTCOME_LABELS, near_misses
from chanye.policy.fields import FIELD_BY_NAME, label_of, plain_value
from chanye.policy.loader import PolicyFileError
from chanye.policy.model import Policy
from chanye.policy.population import Population, population_of
from chanye.policy.simulate import parse_setting, simulate
from chanye.portal.accounts import display_names
from chanye.portal.mail import MailSettings
from chanye.registry.context import RegistryContext
from chanye.registry.provenance import describe_changes
from chanye.registry.schema import TAG_LABELS
from chanye.store.models import PolicyPush, PolicyRun, PolicyVersion
from chanye.system.model import IndustrialSystem
from chanye.units import format_yuan
from chanye.web import workbench
from chanye.web.areas import Area, NavEntry, Permission
from chanye.web.auth import Viewer, requires
from chanye.web.confirm import Confirmation, ConfirmedField, confirmation_page
from chanye.web.confirm import confirmed as is_confirmed
from chanye.web.dependencies import SessionDep, SettingsDep, SystemDep, request_session
from chanye.web.pages import area_renderer

router = APIRouter(prefix="/policies", tags=["政策"])
mine = APIRouter(prefix="/my/policies", tags=["政策"])
AREA = Area(
    "policies",
    router,
    Permission("policies", "read"),
    docs="routes.md",
    nav=NavEntry("政策", "惠企政策规则化：免申即享匹配、逐条解释与调整测算。"),
    cards=workbench.DESK_CARDS,
)
MINE = Area(
    "my-policies", mine, Permission("policies", "own"), docs="routes.md", cards=workbench.PUSH_CARDS
)

Read = Annotated[Viewer, requires("policies", "read")]
Own = Annotated[Viewer, requires("policies", "own")]
Analyse = Annotated[Viewer, requires("policies", "analyse")]
Manage = Annotated[Viewer, requires("policies", "manage")]

page = area_renderer(
    "policies",
    version_labels=workflow.VERSION_LABELS,
    push_labels=workflow.PUSH_LABELS,
    outcome_labels=OUTCOME_LABELS,
    has_benefit=workflow.has_benefit,
)
MAX_POLICY_FILE = 256 * 1024
SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]+")
TAG_NAMES = {tag: labels[0] for tag, labels in TAG_LABELS.items()}
# What a step did, shown after the redirect (fixed texts: nothing from the query string is shown).
RESULTS = {
    "draft": "草稿已保存。发布前可先做调整测算。",
    "confirmed": "已确认享受。政策办将按拨付清单办理。",
    "applied": "申报已提交，待政策办核实；核实后平台按申报数据判定是否符合条件及金额。",
    "declined": "已放弃该项政策。",
    "offline": "已登记线下通知。",
}


@contextmanager
def population(request: Request, settings: SettingsDep) -> Iterator[Population]:
    """The enterprises in force today, as policies read them: the process's one population
    (``population_of``: loaded once per registry state and day, its columns those of the
    process-wide registry view). Pages read it side by side; it locks only while loading."""
    context = RegistryContext.from_settings(settings, request_session(request))
    yield population_of(context, today_in_beijing())


def formatter(system: IndustrialSystem) -> Callable[[str, Any], str]:
    """A function showing a field's value the way people read it (万元, 区名, 标签名)."""
    districts = {d.code: d.name for d in system.districts}
    industries = {ind.id: ind.name for _, ind in system.industries()}

    def show(name: str, value: Any) -> str:
        if value is None:
            return "缺失"
        if isinstance(value, int | float):
            return plain_value(name, value)
        if name == "status":
            return {"active": "存续", "closed": "注销/吊销"}.get(str(value), str(value))
        if name == "district_code":
            return f"{districts.get(str(value), '')} {value}".strip()
        if name == "tags" and isinstance(value, list):
            return "、".join(TAG_NAMES.get(str(v), str(v)) for v in value) or "（无）"
        if name == "clusters" and isinstance(value, list):
            return "、".join(industries.get(str(v), str(v)) for v in value) or "（无）"
        if isinstance(value, list):
            return "、".join(map(str, value)) or "（无）"
        return str(value)

    return show


def value_labels(request: Request, system: IndustrialSystem) -> dict[str, Any]:
    settings: Settings = request.app.state.settings
    return {"show": formatter(system), "field_labels": field_labels(settings.annual_figures_year)}


class FieldLabels(dict[str, str]):
    """Field labels by name; a history function's (``prior:revenue:1``) worked out on first ask."""

    def __missing__(self, name: str) -> str:
        return label_of(name)

    def get(self, name: str, default: str | None = None) -> str:  # type: ignore[override]
        return self[name] if name in self or ":" in name else (default or name)


def field_labels(figures_year: int) -> dict[str, str]:
    """What the enterprise data policies read is called on pages; annual figures name their
    year (``2025年营业收入（元）``)."""
    annual = {"revenue", "rd_expense", "rd_ratio"}
    return FieldLabels(
        {
            name: f"{figures_year}年{spec.label}" if name in annual else spec.label
            for name, spec in FIELD_BY_NAME.items()
        }
    )


def _staff(viewer: Viewer) -> bool:
    return viewer.may("policies", "analyse")


def _chosen(db: SessionDep, policy_id: str, version: int | None, drafts_too: bool) -> PolicyVersion:
    """The version a page shows: the one asked for, else the published one (staff: else the
    newest draft). Drafts are never shown to those who may not see them: 404 like a missing one."""
    versions = workflow.versions_of(db, policy_id)
    if version is not None:
        found = next((v for v in versions if v.version == version), None)
        if found is not None and (drafts_too or found.status != workflow.DRAFT):
            return found
    else:
        current = workflow.current_version(versions, drafts_too)
        if current is not None:
            return current
    raise HTTPException(404, f"没有编号为“{policy_id}”的政策")


@dataclass(frozen=True)
class Analysed:
    """The version staff analyse (drafts too) and its policy, parsed."""

    version: PolicyVersion
    policy: Policy


def analysed_version(db: SessionDep, policy_id: str, version: int | None = None) -> Analysed:
    chosen = _chosen(db, policy_id, version, drafts_too=True)
    return Analysed(chosen, workflow.policy_of(chosen))


# Declared after the access requirement in each handler, so a refusal comes before a 404.
AnalysedDep = Annotated[Analysed, Depends(analysed_version)]


def version_or_404(db: SessionDep, version_id: int) -> PolicyVersion:
    found = db.get(PolicyVersion, version_id)
    if found is None:
        raise HTTPException(404, f"没有编号为 {version_id} 的政策版本")
    return found


def _in_scope(viewer: Viewer, record: dict[str, Any] | None) -> bool:
    """Whether the viewer may see this enterprise (decided by ``chanye.registry.scope``)."""
    return viewer.scope.admits_record(record)


# --- the library ----------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse, summary="The policy library")
def library(request: Request, db: SessionDep, viewer: Read) -> HTMLResponse:
    published = workflow.published_versions(db)
    drafts = [v for v in workflow.all_versions(db) if v.status == workflow.DRAFT]
    drafts = drafts if _staff(viewer) else []
    runs = workflow.latest_runs(db, [v.id for v in published])
    context = {
        "entries": [(v, workflow.policy_of(v), runs.get(v.id)) for v in published],
        "drafts": [(v, workflow.policy_of(v)) for v in drafts],
        "staff": _staff(viewer),
        "manager": viewer.may("policies", "manage"),
    }
    return page(request, "policies/list.html", context)


# --- managing: drafts, publish, run, disbursement -------------------------------------------
# Declared before /policies/{policy_id}, which would otherwise take "manage" for an id.


def _manage_page(request: Request, db: SessionDep, status: int = 200, **extra: Any) -> HTMLResponse:
    versions = workflow.all_versions(db)
    runs = workflow.latest_runs(db, [v.id for v in versions])
    context: dict[str, Any] = {"versions": versions, "runs": runs, "problems": [], "text": ""}
    unreachable = [
        (push, version, workflow.evidence_of(push).get("name") or "")
        for push, version in notices.unreachable_pushes(db)
    ]
    context.update(
        error=None,
        message=None,
        unreachable=unreachable,
        unreachable_total=notices.unreachable_count(db),
    )
    context.update(extra)
    context["names"] = display_names(
        db, [v.created_by for v in versions] + [v.approved_by or "" for v in versions]
    )
    return page(request, "policies/manage.html", context, status=status)


@router.get("/manage", response_class=HTMLResponse, summary="Manage: versions, upload")
def manage_page(request: Request, db: SessionDep, viewer: Manage, result: str = "") -> HTMLResponse:
    return _manage_page(request, db, message=RESULTS.get(result))


@router.post("/drafts", summary="Upload or paste a policy file as a new draft")
def add_draft(
    request: Request,
    db: SessionDep,
    viewer: Manage,
    file: Annotated[UploadFile | None, File(description="A policy file (YAML)")] = None,
    text: Annotated[str, Form(max_length=MAX_POLICY_FILE)] = "",
) -> Response:
    source_name = "粘贴的文本.yaml"
    if file is not None and file.filename:
        content = file.file.read(MAX_POLICY_FILE + 1)
        if len(content) > MAX_POLICY_FILE:
            return _manage_page(request, db, 413, error="政策文件不能超过 256 KB")
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            return _manage_page(request, db, 400, error="政策文件须为 UTF-8 编码")
        source_name = SAFE_NAME.sub("_", Path(file.filename).name)[-120:] or "policy.yaml"
    if not text.strip():
        return _manage_page(request, db, 400, error="请上传政策文件或粘贴其内容")
    try:
        version = workflow.add_draft(db, text, source_name, viewer.actor)
    except PolicyFileError as invalid:
        problems = [str(p) for p in invalid.problems]
        return _manage_page(request, db, 400, problems=problems, text=text)
    except workflow.WorkflowRefusedError as refused:
        return _manage_page(request, db, 409, error=str(refused), text=text)
    db.commit()  # now: the session dependency commits only after the response is sent
    return RedirectResponse(
        f"/policies/{version.policy_id}?version={version.version}&result=draft", status_code=303
    )


@router.post(
    "/versions/{version_id:int}/publish",
    summary="Publish a draft and match (双人复核 for a benefit; asks first if it expires another)",
    response_model=None,
)
def publish(
    request: Request,
    version_id: int,
    db: SessionDep,
    settings: SettingsDep,
    viewer: Manage,
    confirmed: ConfirmedField = "",
) -> Response:
    version = version_or_404(db, version_id)
    superseded = workflow.superseded_by(db, version) if version.status == workflow.DRAFT else []
    if superseded and not is_confirmed(confirmed):
        return _confirm_expiry(request, db, superseded[0], version)
    try:
        with population(request, settings) as loaded:
            run = workflow.publish(db, version, viewer.actor, loaded)
    except workflow.SamePersonRefusedError as refused:
        db.commit()  # the refusal is audited
        return _manage_page(request, db, 409, error=refused.zh)
    except workflow.WorkflowRefusedError as refused:
        return _manage_page(request, db, 409, error=str(refused))
    return _after_run(db, settings, viewer, version, run)


@router.post(
    "/versions/{version_id:int}/expire",
    summary="停止执行: expire a published version (asks first), withdrawing undecided pushes",
    response_model=None,
)
def expire(
    request: Request,
    version_id: int,
    db: SessionDep,
    viewer: Manage,
    confirmed: ConfirmedField = "",
) -> Response:
    version = version_or_404(db, version_id)
    if version.status == workflow.PUBLISHED and not is_confirmed(confirmed):
        return _confirm_expiry(request, db, version, None)
    try:
        withdrawn = workflow.expire(db, version, viewer.actor)
    except workflow.WorkflowRefusedError as refused:
        return _manage_page(request, db, 409, error=str(refused))
    db.commit()
    return _manage_page(
        request,
        db,
        message=f"已停止执行“{version.title}”第 {version.version} 版，撤回 {withdrawn} 条待确认推送。",
    )


def _confirm_expiry(
    request: Request, db: SessionDep, old: PolicyVersion, new: PolicyVersion | None
) -> HTMLResponse:
    """Ask before a published version stops: its undecided pushes are withdrawn."""
    pending, confirmed = workflow.undecided_count(db, old)
    what = f"“{old.title}”第 {old.version} 版"
    if new is None:
        title, button, action = (
            f"确认停止执行{what}",
            "确认停止执行",
            f"/policies/versions/{old.id}/expire",
        )
        sentence = f"将停止执行{what}：撤回 {pending:,} 条待确认推送"
    else:
        title, button, action = (
            f"确认发布第 {new.version} 版",
            "确认发布",
            f"/policies/versions/{new.id}/publish",
        )
        sentence = f"发布第 {new.version} 版后，{what}将失效：撤回 {pending:,} 条待确认推送，由新版重新匹配推送"
    return confirmation_page(
        request,
        Confirmation(
            title=title,
            consequence=f"{sentence}；已确认享受的 {confirmed:,} 条保留在拨付清单中。",
            action=action,
            button=button,
            back=f"/policies/{old.policy_id}?version={old.version}",
        ),
        "policies",
    )


def _after_run(
    db: SessionDep, settings: SettingsDep, viewer: Viewer, version: PolicyVersion, run: PolicyRun
) -> RedirectResponse:
    """Keep the run, tell the enterprises with a new push by e-mail, show the run's figures."""
    db.commit()  # the run stands even if mail fails; and before the browser follows the redirect
    mail = MailSettings.from_settings(settings)
    notices.notify_new_pushes(db, run, mail, settings.site_url, viewer.actor)
    db.commit()
    return RedirectResponse(f"/policies/{version.policy_id}?run={run.id}", status_code=303)


@router.post("/versions/{version_id:int}/run", summary="Match a published policy again")
def run_again(
    request: Request, version_id: int, db: SessionDep, settings: SettingsDep, viewer: Manage
) -> Response:
    version = version_or_404(db, version_id)
    try:
        with population(request, settings) as loaded:
            run = workflow.run_matching(db, version, loaded, viewer.actor)
    except workflow.WorkflowRefusedError as refused:
        return _manage_page(request, db, 409, error=str(refused))
    return _after_run(db, settings, viewer, version, run)


@router.get(
    "/versions/{version_id:int}/disbursement",
    response_class=HTMLResponse,
    summary="Disbursement list of a version",
)
def disbursement_page(
    request: Request, version_id: int, db: SessionDep, viewer: Manage
) -> HTMLResponse:
    return _disbursement(request, db, version_id)


def _disbursement(
    request: Request, db: SessionDep, version_id: int, status: int = 200, error: str = ""
) -> HTMLResponse:
    version = version_or_404(db, version_id)
    rows = payments.disbursement(db, version.id)
    confirmed = [r for r in rows if r.status == workflow.CONFIRMED]
    today = today_in_beijing()
    context = {
        "unchecked": sum(
            1
            for r in rows
            for i in r.instalments
            if i.state in instalments.CHECKED and i.is_due(today)
        ),
        "version": version,
        "rows": rows,
        "confirmed_count": len(confirmed),
        "confirmed_total": sum(r.amount or 0.0 for r in confirmed),
        "pending": sum(1 for r in rows if r.status == workflow.PUSHED),
        "run": workflow.last_run(db, version.id),
        "today": today.isoformat(),
        "today_date": today,
        "error": error,
    }
    return page(request, "policies/disbursement.html", context, status)


@router.get(
    "/versions/{version_id:int}/disbursement.xlsx",
    summary="Disbursement list as an Excel file",
)
def disbursement_xlsx(version_id: int, db: SessionDep, viewer: Manage) -> Response:
    version = version_or_404(db, version_id)
    name = f"disbursement-{version.policy_id}-v{version.version}.xlsx"
    return Response(
        payments.disbursement_xlsx(db, version),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- the enterprise's pushes ----------------------------------------------------------------


def _schedules(
    db: SessionDep, pushes: list[tuple[PolicyPush, PolicyVersion]]
) -> dict[int, list[instalment_plans.InstalmentRow]]:
    """分期拨付, by push: a confirmed one's instalments as recorded, an open one's as planned."""
    found = instalment_plans.instalment_rows(
        db, [(p, workflow.policy_of(v)) for p, v in pushes if p.status == workflow.CONFIRMED]
    )
    today = today_in_beijing()
    for push, version in pushes:
        if push.status == workflow.PUSHED:
            planned = instalment_plans.planned_rows(push, workflow.policy_of(version), today)
            if planned:
                found[push.id] = planned
    return found


def pushes_page(
    request: Request,
    db: SessionDep,
    system: IndustrialSystem,
    viewer: Viewer,
    status: int = 200,
    **extra: Any,
) -> HTMLResponse:
    account = viewer.require_account()
    own = viewer.scope.uscc
    pushes = workflow.pushes_for(db, own) if own else []
    items = [(push, version, workflow.explanation_of(push, version)) for push, version in pushes]
    context = {
        "own": own,
        "claimed": account.enterprise_uscc,
        "items": items,
        "rivals": workflow.exclusive_rivals(pushes),
        "schedules": _schedules(db, pushes),
        "asked": {
            push.id: applications.asked_of(db, push, workflow.policy_of(version))
            for push, version in pushes
        },
        "application_labels": applications.STATUS_LABELS,
        "attachment_key": applications.attachment_key,
        "attachment_labels": applications.attachment_labels,
        "item_key": applications.item_key,
        "application_problems": {},
        "typed": {},
        "typed_items": {},
        "message": None,
        "error": None,
        **value_labels(request, system),
        **extra,
    }
    context["sources"] = describe_changes(db, [x.get("source_change") for _, _, x in items if x])
    return page(request, "policies/mine.html", context, status=status)


@mine.get("", response_class=HTMLResponse, summary="My enterprise's policy pushes")
def my_policies(
    request: Request, db: SessionDep, system: SystemDep, viewer: Own, result: str = ""
) -> HTMLResponse:
    return pushes_page(request, db, system, viewer, message=RESULTS.get(result))


def _decide(
    request: Request,
    push_id: int,
    db: SessionDep,
    system: IndustrialSystem,
    viewer: Viewer,
    confirm: bool,
    confirmed: str = "",
) -> Response:
    push = db.get(PolicyPush, push_id)
    account = viewer.require_account()
    if push is None:
        raise HTTPException(404, "没有这条推送")
    decide = workflow.confirm if confirm else workflow.decline
    ask_first = not confirm and not is_confirmed(confirmed) and push.status == workflow.PUSHED
    try:
        if ask_first:  # 放弃 cannot be taken back: say so first (to the enterprise only)
            workflow.check_own_push(db, push, account, viewer.actor, "policy.push.decline")
            return _confirm_decline(request, db, push)
        decide(db, push, account, viewer.actor)
    except workflow.NotYourPushError:
        db.commit()  # the refusal is audited; another enterprise's push answers like a missing one
        raise HTTPException(404, "没有这条推送") from None
    except workflow.WorkflowRefusedError as refused:
        return pushes_page(request, db, system, viewer, 409, error=str(refused))
    db.commit()  # before the browser follows the redirect to the new status
    result = "confirmed" if confirm else "declined"
    return RedirectResponse(f"/my/policies?result={result}#push-{push.id}", status_code=303)


def _confirm_decline(request: Request, db: SessionDep, push: PolicyPush) -> HTMLResponse:
    version = version_or_404(db, push.policy_version_id)
    amount = f"（{format_yuan(push.amount)}）" if push.amount is not None else ""
    return confirmation_page(
        request,
        Confirmation(
            title=f"确认放弃“{version.title}”",
            consequence=f"将放弃“{version.title}”{amount}：放弃后不能再确认享受，"
            "重新匹配也不会再次推送本版政策。",
            action=f"/my/policies/{push.id}/decline",
            button="确认放弃",
            back=f"/my/policies#push-{push.id}",
        ),
        "policies",
    )


@mine.post("/{push_id:int}/confirm", summary="确认享受: accept a pushed benefit")
def confirm_push(
    request: Request, push_id: int, db: SessionDep, system: SystemDep, viewer: Own
) -> Response:
    return _decide(request, push_id, db, system, viewer, confirm=True)


@mine.post("/{push_id:int}/decline", summary="放弃: decline a pushed benefit")
def decline_push(
    request: Request,
    push_id: int,
    db: SessionDep,
    system: SystemDep,
    viewer: Own,
    confirmed: ConfirmedField = "",
) -> Response:
    return _decide(request, push_id, db, system, viewer, confirm=False, confirmed=confirmed)


@router.post(
    "/pushes/{push_id:int}/payment",
    summary="登记拨付: a confirmed push was paid, or one of its instalments (分期拨付)",
)
def record_payment(
    request: Request,
    push_id: int,
    db: SessionDep,
    viewer: Manage,
    paid_on: Annotated[dt.date, Form()],
    reference: Annotated[str, Form(max_length=120)] = "",
    instalment: Annotated[int | None, Form(ge=1, le=100)] = None,
) -> Response:
    push = db.get(PolicyPush, push_id)
    if push is None:
        raise HTTPException(404, "没有这条推送 / no such push")
    try:
        payments.record_payment(db, push, paid_on, reference, viewer.actor, instalment)
    except workflow.WorkflowRefusedError as refused:
        return _disbursement(request, db, push.policy_version_id, 409, str(refused))
    db.commit()
    return RedirectResponse(
        f"/policies/versions/{push.policy_version_id}/disbursement#paid", status_code=303
    )


@router.post(
    "/versions/{version_id:int}/instalments/check",
    summary="核查到期分期: read the look-back of the policy's instalments due by today",
)
def check_instalments(
    request: Request, version_id: int, db: SessionDep, settings: SettingsDep, viewer: Manage
) -> Response:
    version = version_or_404(db, version_id)
    context = RegistryContext.from_settings(settings, request_session(request))
    # Each due date its own registry as it stood (not the process's population of today).
    instalments.check_due(
        db,
        lambda day: Population.of(context, day),
        today_in_beijing(),
        viewer.actor,
        version.policy_id,
    )
    db.commit()
    return RedirectResponse(
        f"/policies/versions/{version.id}/disbursement#disbursement-rows", status_code=303
    )


@router.post(
    "/pushes/{push_id:int}/offline-notice",
    summary="已线下通知: the policy office told an enterprise no account receives for",
)
def offline_notice(request: Request, push_id: int, db: SessionDep, viewer: Manage) -> Response:
    push = db.get(PolicyPush, push_id)
    if push is None:
        raise HTTPException(404, "没有这条推送 / no such push")
    try:
        notices.mark_offline_notice(db, push, viewer.actor)
    except workflow.WorkflowRefusedError as refused:
        return _manage_page(request, db, 409, error=str(refused))
    db.commit()
    return RedirectResponse("/policies/manage?result=offline#offline", status_code=303)


# --- one policy -----------------------------------------------------------------------------


@router.get("/{policy_id}", response_class=HTMLResponse, summary="A policy: its clauses")
def policy_page(
    request: Request,
    policy_id: str,
    db: SessionDep,
    viewer: Read,
    version: int | None = None,
    run: int | None = None,
    result: str = "",
) -> HTMLResponse:
    staff = _staff(viewer)
    chosen = _chosen(db, policy_id, version, staff)
    versions = [
        v for v in workflow.versions_of(db, policy_id) if staff or v.status != workflow.DRAFT
    ]
    latest = workflow.last_run(db, chosen.id)
    context = {
        "version": chosen,
        "policy": workflow.policy_of(chosen),
        "versions": versions,
        "run": latest,
        "just_ran": latest is not None and latest.id == run,
        "staff": staff,
        "manager": viewer.may("policies", "manage"),
        "message": RESULTS.get(result),
        "field_labels": field_labels(request.app.state.settings.annual_figures_year),
        "sources": describe_changes(db, [latest.registry_change_id] if latest else []),
        "group_titles": _same_group(db, workflow.policy_of(chosen)),
        "names": display_names(
            db,
            [latest.actor if latest else ""]
            + [v.created_by for v in versions]
            + [v.published_by or "" for v in versions],
        ),
    }
    return page(request, "policies/detail.html", context)


def _same_group(db: SessionDep, policy: Policy) -> list[str]:
    """The titles of the other published policies of this policy's exclusive group."""
    if not policy.exclusive_group:
        return []
    return [
        v.title
        for v in workflow.published_versions(db)
        if v.policy_id != policy.id
        and workflow.policy_of(v).exclusive_group == policy.exclusive_group
    ]


def _slider(name: str, value: int | float) -> dict[str, Any]:
    """A range for a numeric parameter: 0 to three times its value, in about 300 steps."""
    whole = isinstance(value, int)
    top = value * 3 if value > 0 else (100 if whole else 1.0)
    step: float = 10 ** (math.floor(math.log10(top)) - 2)
    if whole:
        step = max(1, int(step))
    return {"name": name, "value": value, "max": top, "step": f"{step:.10g}", "whole": whole}


def numeric_parameters(policy: Policy) -> list[dict[str, Any]]:
    return [
        _slider(n, v)
        for n, v in policy.parameters.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    ]


def _simulation_context(
    loaded: Population,
    policy: Policy,
    changes: dict[str, Any],
    viewer: Viewer,
    system: IndustrialSystem,
) -> dict[str, Any]:
    result = simulate(loaded, policy, changes, scope=viewer.scope)
    districts = {d.code: d.name for d in system.districts}
    industries = {ind.id: ind.name for _, ind in system.industries()}

    def chart(rows: list[dict[str, Any]], names: dict[str, str]) -> dict[str, Any]:
        return {
            "labels": [names.get(r["key"], r["key"]) for r in rows],
            "before": [r["before_eligible"] for r in rows],
            "after": [r["after_eligible"] for r in rows],
            "before_amount": [r["before_amount"] for r in rows],
            "after_amount": [r["after_amount"] for r in rows],
        }

    return {
        "sim": result,
        "district_chart": chart(result.by_district, districts),
        "cluster_chart": chart(result.by_cluster, industries),
        "districts": districts,
        "gainers": result.gainers,  # the simulation ran within the viewer's scope
        "losers": result.losers,
    }


@router.get("/{policy_id}/simulate", response_class=HTMLResponse, summary="What-if: sliders")
def simulate_page(
    request: Request,
    settings: SettingsDep,
    system: SystemDep,
    viewer: Analyse,
    analysed: AnalysedDep,
) -> HTMLResponse:
    chosen, policy = analysed.version, analysed.policy
    with population(request, settings) as loaded:
        context = _simulation_context(loaded, policy, {}, viewer, system)
        as_of = loaded.as_of
    context.update(
        {"version": chosen, "policy": policy, "sliders": numeric_parameters(policy), "as_of": as_of}
    )
    return page(request, "policies/simulate.html", context)


def _simulation_error(request: Request, error: str) -> HTMLResponse:
    # HTMX swaps only successful answers: the slider form gets the message with 200, others 400.
    status = 200 if request.headers.get("HX-Request") else 400
    return page(request, "policies/_simulation_error.html", {"error": error}, status)


@router.get(
    "/{policy_id}/simulate/result",
    response_class=HTMLResponse,
    summary="What-if result for ?name=value... (HTMX)",
)
def simulate_result(
    request: Request,
    settings: SettingsDep,
    system: SystemDep,
    viewer: Analyse,
    analysed: AnalysedDep,
) -> HTMLResponse:
    policy = analysed.policy
    changes: dict[str, Any] = {}
    numeric = {s["name"] for s in numeric_parameters(policy)}
    for name, raw in request.query_params.items():
        if name not in numeric or not raw.strip():
            continue
        try:
            key, value = parse_setting(f"{name}={raw}", policy)
        except ValueError as bad:
            return _simulation_error(request, str(bad))
        if value != policy.parameters[key]:
            changes[key] = value
    try:
        with population(request, settings) as loaded:
            context = _simulation_context(loaded, policy, changes, viewer, system)
    except PolicyFileError as bad:
        return _simulation_error(request, str(bad))
    return page(request, "policies/_simulation.html", {**context, "policy": policy})


@router.get(
    "/{policy_id}/near-misses",
    response_class=HTMLResponse,
    summary="Enterprises failing exactly one condition",
)
def near_misses_page(
    request: Request,
    settings: SettingsDep,
    system: SystemDep,
    viewer: Analyse,
    analysed: AnalysedDep,
) -> HTMLResponse:
    chosen, policy = analysed.version, analysed.policy
    with population(request, settings) as loaded:
        misses = near_misses(loaded, policy, limit=100, scope=viewer.scope)
        as_of = loaded.as_of
    context = {
        "version": chosen,
        "policy": policy,
        "misses": misses,
        "as_of": as_of,
        "in_force": policy.valid_on(as_of),
        **value_labels(request, system),
    }
    return page(request, "policies/near_misses.html", context)


@router.get("/{policy_id}/explain", summary="Go to an enterprise's explanation (?uscc=)")
def explain_lookup(
    policy_id: str, viewer: Analyse, uscc: str = "", version: int | None = None
) -> RedirectResponse:
    target = re.sub(r"[^0-9A-Za-z]", "", uscc).upper()[:18] or "-"
    suffix = f"?version={version}" if version is not None else ""
    return RedirectResponse(f"/policies/{policy_id}/explain/{target}{suffix}", status_code=303)


@router.get(
    "/{policy_id}/explain/{uscc}",
    response_class=HTMLResponse,
    summary="Why an enterprise does or does not qualify",
)
def explain_page(
    request: Request,
    uscc: str,
    db: SessionDep,
    settings: SettingsDep,
    system: SystemDep,
    viewer: Analyse,
    analysed: AnalysedDep,
) -> HTMLResponse:
    chosen, policy = analysed.version, analysed.policy
    with population(request, settings) as loaded:
        explained = (
            workflow.explain_paid(db, loaded, policy, uscc)
            if _in_scope(viewer, loaded.record(uscc))
            else None
        )
    if explained is None:
        raise HTTPException(404, f"企业库中没有统一社会信用代码为“{uscc}”的企业")
    context = {
        "version": chosen,
        "policy": policy,
        "x": explained.to_dict(),
        # 分期拨付 beside the amount: the amount split by the schedule (its clauses alone when
        # the enterprise does not qualify)
        "schedule": instalment_plans.schedule_words(
            policy, explained.amount if explained.eligible else None
        ),
        **value_labels(request, system),
    }
    context["sources"] = describe_changes(db, [explained.source_change])
    return page(request, "policies/explain.html", context)
