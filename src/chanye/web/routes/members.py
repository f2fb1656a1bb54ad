"""会员: what membership offers, 入会申请 with documents, the reviewers' queue, 会员名录.

Thin: the rules are ``chanye.portal.membership`` and ``chanye.portal.documents``. The one check
made here is data-level: an application (and its documents) is seen by its applicant and by
reviewers only; to anyone else it does not exist (404).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from chanye.config import Settings
from chanye.portal import documents, membership
from chanye.portal.membership import ApplicationForm, MembershipRefusedError
from chanye.portal.review import MAX_REASON
from chanye.problems import Problem
from chanye.store.models import Account, MembershipApplication, MembershipDocument
from chanye.system.model import IndustrialSystem
from chanye.web import workbench
from chanye.web.areas import Area, NavEntry, Permission
from chanye.web.auth import Viewer, requires
from chanye.web.confirm import Confirmation, ConfirmedField, confirmation_page
from chanye.web.confirm import confirmed as is_confirmed
from chanye.web.dependencies import SessionDep, SettingsDep, SystemDep
from chanye.web.forms import ApplicationFields
from chanye.web.pages import area_renderer
from chanye.web.uploads import DocumentRead, audited_download, read_upload

router = APIRouter(prefix="/members", tags=["会员"])
AREA = Area(
    "members",
    router,
    Permission("site", "read"),
    docs="routes.md",
    nav=NavEntry("会员", "产业协会会员门户：注册登录、入会申请、会员名录。"),
    cards=workbench.MEMBERSHIP_CARDS,
)

SiteRead = Annotated[Viewer, requires("site", "read")]
MayApply = Annotated[Viewer, requires("membership", "apply")]
LoggedIn = Annotated[Viewer, requires("account", "self")]
Reviewer = Annotated[Viewer, requires("membership", "review")]
DirectoryReader = Annotated[Viewer, requires("members", "directory")]
PageNumber = Annotated[int, Query(alias="page", ge=1, le=100_000)]
NOT_FOUND = "没有这份入会申请，或您无权查看"
DONE = {
    "submitted": "入会申请已提交，确认邮件已发送到您的注册邮箱。",
    "review": "已开始审核，申请人已收到邮件通知。",
    "approve": "已批准入会，该账号现为会员企业，申请人已收到邮件通知。",
    "reject": "已驳回申请，申请人已收到附理由的邮件通知。",
}


page = area_renderer("members", status_labels=membership.STATUS_LABELS)


def _by_field(problems: list[Problem]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for problem in problems:
        grouped.setdefault(problem.field, []).append(f"{problem.zh} / {problem.en}")
    return grouped


# --- the area page -------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse, summary="会员: membership and how to apply")
def members_page(
    request: Request, db: SessionDep, settings: SettingsDep, viewer: SiteRead
) -> HTMLResponse:
    latest = None
    if viewer.account is not None:
        latest = membership.latest_application(db, viewer.account.id)
    return page(
        request, "members/index.html", {"latest": latest, "max_mb": settings.max_document_mb}
    )


# --- applying ------------------------------------------------------------------------------


@router.get("/apply", response_class=HTMLResponse, summary="入会申请 form")
def apply_page(
    request: Request, db: SessionDep, settings: SettingsDep, system: SystemDep, viewer: MayApply
) -> HTMLResponse:
    account = viewer.require_account()
    if account.role == "member":
        return page(
            request,
            "members/message.html",
            {
                "title": "您已是会员企业",
                "message": "贵单位已是产业协会会员企业，无需再次申请。",
                "link": ("/members/directory", "查看会员名录"),
            },
        )
    current = membership.open_application(db, account.id)
    if current is not None:
        return page(
            request,
            "members/message.html",
            {
                "title": "申请正在处理中",
                "message": f"您的入会申请（第 {current.id} 号）{membership.STATUS_LABELS[current.status]}，"
                "请等待审核结果，每一步进展都会以邮件通知您。",
                "link": (f"/members/applications/{current.id}", "查看我的申请"),
            },
        )
    latest = membership.latest_application(db, account.id)
    rejected = latest is not None and latest.status == membership.REJECTED
    form = (
        ApplicationForm.copied(latest)
        if latest and rejected
        else ApplicationForm.prefilled(account)
    )
    return page(request, "members/apply.html", _apply_context(settings, system, account, form))


def _apply_context(
    settings: Settings,
    system: IndustrialSystem,
    account: Account,
    form: ApplicationForm,
    problems: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    values = form.as_dict()
    if account.enterprise_uscc:  # the field is read-only then: show the code it must be
        values["enterprise_uscc"] = account.enterprise_uscc
    return {
        "form": values,
        "problems": problems or {},
        "industries": list(system.industries()),
        "districts": system.districts,
        "uscc_locked": bool(account.enterprise_uscc),
        "max_mb": settings.max_document_mb,
        "max_others": documents.MAX_OTHER_DOCUMENTS,
    }


@router.post("/apply", summary="Submit a membership application with its documents")
def apply(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    system: SystemDep,
    viewer: MayApply,
    fields: Annotated[ApplicationFields, Form()],
    licence: Annotated[UploadFile | None, File(description="营业执照: PDF, JPG or PNG")] = None,
    others: Annotated[list[UploadFile] | None, File(description="Up to 4 more documents")] = None,
) -> Response:
    account = viewer.require_account()
    form = fields.form()
    limit = settings.max_document_mb << 20
    uploads = [*read_upload(licence, documents.LICENCE, limit)]
    for other in others or []:
        uploads += read_upload(other, documents.OTHER, limit)
    try:
        application = membership.submit(db, settings, account, form, uploads, viewer.actor)
    except MembershipRefusedError as refused:
        context = _apply_context(
            settings, system, account, form.cleaned(), _by_field(refused.problems)
        )
        return page(request, "members/apply.html", context, status=400)
    return RedirectResponse(f"/members/applications/{application.id}?done=submitted", 303)


# --- one application -----------------------------------------------------------------------


def _visible(db: SessionDep, viewer: Viewer, application_id: int) -> MembershipApplication:
    application = db.get(MembershipApplication, application_id)
    if application is None or not membership.may_view(
        application, viewer.account, viewer.may("membership", "review")
    ):
        raise HTTPException(404, NOT_FOUND)
    return application


def _application_page(
    request: Request,
    db: SessionDep,
    system: IndustrialSystem,
    viewer: Viewer,
    application: MembershipApplication,
    problems: list[Problem] | None = None,
    status: int = 200,
) -> HTMLResponse:
    industry = system.industry(application.industry_id) if application.industry_id else None
    district = next((d.name for d in system.districts if d.code == application.district), "")
    return page(
        request,
        "members/application.html",
        {
            "application": application,
            "documents": documents.documents_of(db, application.id),
            "kind_labels": documents.KIND_LABELS,
            "type_labels": documents.LABEL_OF,
            "steps": membership.timeline(db, application.id),
            "industry": industry.name if industry else "",
            "district": district,
            "reviewing": viewer.may("membership", "review"),
            "done": DONE.get(request.query_params.get("done", "")),
            "problems": [f"{p.zh} / {p.en}" for p in problems or []],
        },
        status,
    )


@router.get(
    "/applications/{application_id}",
    response_class=HTMLResponse,
    summary="One application: status, timeline, documents (applicant or reviewer)",
)
def application_page(
    request: Request, application_id: int, db: SessionDep, system: SystemDep, viewer: LoggedIn
) -> HTMLResponse:
    application = _visible(db, viewer, application_id)
    return _application_page(request, db, system, viewer, application)


@router.get(
    "/applications/{application_id}/documents/{document_id}",
    summary="Download one document of an application (applicant or reviewer)",
)
def document_download(
    application_id: int,
    document_id: int,
    db: SessionDep,
    settings: SettingsDep,
    viewer: LoggedIn,
) -> Response:
    application = _visible(db, viewer, application_id)
    document = db.get(MembershipDocument, document_id)
    owned = document if document is not None and document.application_id == application.id else None
    read = DocumentRead(
        "membership.document_read", "membership_document", "application", application.id
    )
    return audited_download(db, viewer.actor, settings.uploads_dir, owned, documents.FOLDER, read)


# --- reviewing -----------------------------------------------------------------------------


@router.get("/review", response_class=HTMLResponse, summary="Reviewers' queue")
def review_page(
    request: Request,
    db: SessionDep,
    viewer: Reviewer,
    status: Annotated[str, Query(max_length=20)] = "",
    page_number: PageNumber = 1,
) -> HTMLResponse:
    status = status if status in membership.STATUS_LABELS else ""
    queue = membership.review_queue(db, status, page_number)
    return page(
        request,
        "members/review.html",
        {
            "queue": queue,
            "status": status,
            "counts": membership.status_counts(db),
        },
    )


@router.post("/applications/{application_id}/review", summary="开始审核")
def start_review(
    request: Request,
    application_id: int,
    db: SessionDep,
    settings: SettingsDep,
    system: SystemDep,
    viewer: Reviewer,
) -> Response:
    application = _visible(db, viewer, application_id)
    try:
        membership.start_review(db, settings, application, viewer.actor)
    except MembershipRefusedError as refused:
        return _application_page(request, db, system, viewer, application, refused.problems, 409)
    return RedirectResponse(f"/members/applications/{application.id}?done=review", 303)


@router.post("/applications/{application_id}/decide", summary="批准 or 驳回")
def decide(
    request: Request,
    application_id: int,
    db: SessionDep,
    settings: SettingsDep,
    system: SystemDep,
    viewer: Reviewer,
    decision: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
    confirmed: ConfirmedField = "",
) -> Response:
    application = _visible(db, viewer, application_id)
    try:
        if decision == "reject" and not is_confirmed(confirmed):
            membership.check_decision(application, decision, reason)
            return _confirm_rejection(request, application, reason)
        membership.decide(db, settings, application, decision, reason, viewer.actor)
    except MembershipRefusedError as refused:
        wrong_step = any(p.field == "status" for p in refused.problems)
        return _application_page(
            request, db, system, viewer, application, refused.problems, 409 if wrong_step else 400
        )
    return RedirectResponse(f"/members/applications/{application.id}?done={decision}", 303)


def _confirm_rejection(
    request: Request, application: MembershipApplication, reason: str
) -> HTMLResponse:
    """驳回 mails the applicant and closes the application: said before it is done."""
    return confirmation_page(
        request,
        Confirmation(
            title=f"确认驳回第 {application.id} 号入会申请",
            consequence=f"将驳回“{application.company_name}”的入会申请：申请人会收到附下列理由的"
            "邮件，本申请随即结束，不能恢复；申请人可按理由完善材料后重新申请。",
            action=f"/members/applications/{application.id}/decide",
            button="确认驳回",
            back=f"/members/applications/{application.id}",
            fields={"decision": "reject", "reason": reason},
            details=[f"驳回理由：{reason.strip()}"],
        ),
        "members",
    )


# --- the directory -------------------------------------------------------------------------


@router.get("/directory", response_class=HTMLResponse, summary="会员名录")
def directory_page(
    request: Request,
    db: SessionDep,
    system: SystemDep,
    viewer: DirectoryReader,
    q: Annotated[str, Query(max_length=100)] = "",
    page_number: PageNumber = 1,
) -> HTMLResponse:
    found = membership.directory(db, system, q, page_number)
    # Members see who to contact; only staff see members' mobile numbers and e-mail addresses.
    return page(
        request,
        "members/directory.html",
        {
            "found": found,
            "q": q,
            "show_contacts": viewer.is_staff,
        },
    )
