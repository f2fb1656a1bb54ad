"""企业绑定: an enterprise account proves it acts for its enterprise; staff verify; the
enterprise's administrator invites and removes its other accounts.

Thin: the rules are ``chanye.portal.binding`` and ``chanye.portal.identity``. Refusals of the
domain answer 400/409 with the page and its reasons (never 403: the route itself is allowed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, HTTPException, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from chanye.config import Settings
from chanye.portal import binding, documents, identity
from chanye.portal.binding import BindingRefusedError
from chanye.portal.review import MAX_REASON
from chanye.problems import Problem
from chanye.store.audit import Actor
from chanye.store.models import Account, BindingDocument, EnterpriseBinding
from chanye.web.areas import Area, Permission
from chanye.web.auth import Viewer, requires
from chanye.web.dependencies import SessionDep, SettingsDep
from chanye.web.pages import area_renderer
from chanye.web.uploads import DocumentRead, audited_download, read_upload

router = APIRouter(prefix="/bindings", tags=["企业绑定"])
own = APIRouter(prefix="/account/binding", tags=["企业绑定"])
AREA = Area("bindings", router, Permission("bindings", "review"), docs="routes.md")
OWN = Area("binding", own, Permission("binding", "own"), docs="routes.md")

Own = Annotated[Viewer, requires("binding", "own")]
Reviewer = Annotated[Viewer, requires("bindings", "review")]
NOT_FOUND = "没有这项企业绑定 / no such binding"
DONE = {
    "submitted": "核验材料已提交，工作人员核验后会以邮件通知您。",
    "verified": "统一身份认证已确认贵企业，绑定已核验。",
    "invited": "已邀请该账号绑定本企业，对方已收到邮件通知。",
    "removed": "已解除该账号与本企业的绑定，对方已收到邮件通知。",
    "approve": "已核验通过，申请人已收到邮件通知。",
    "reject": "已驳回，申请人已收到附理由的邮件通知。",
    "revoke": "已解除绑定，该账号已收到邮件通知。",
}

page = area_renderer(
    "members",
    state_labels=binding.STATE_LABELS,
    method_labels=binding.METHOD_LABELS,
    role_labels=binding.ROLE_LABELS,
    kind_labels=documents.KIND_LABELS,
    type_labels=documents.LABEL_OF,
)


def _messages(problems: list[Problem]) -> list[str]:
    return [problem.zh for problem in problems]


# --- the account's own binding ---------------------------------------------------------------


def _own_page(
    request: Request,
    db: SessionDep,
    settings: Settings,
    account: Account,
    problems: list[str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    provider = identity.Provider.from_settings(settings)
    return page(
        request,
        "account/binding.html",
        {
            "standing": binding.standing(db, account),
            "provider_label": provider.label if provider else None,
            "max_mb": settings.max_document_mb,
            "done": DONE.get(request.query_params.get("done", "")),
            "problems": problems or [],
        },
        status,
    )


def _own_step(
    request: Request,
    db: SessionDep,
    settings: Settings,
    viewer: Viewer,
    done: str,
    step: Callable[[Session, Settings, Account, Any, Actor], object],
    argument: Any,
) -> Response:
    """Take one step on the account's binding (``step(db, settings, account, argument, actor)``):
    back to its page with the outcome. Refused uploads answer 400, refused steps 409."""
    account = viewer.require_account()
    try:
        step(db, settings, account, argument, viewer.actor)
    except BindingRefusedError as refused:
        status = 400 if done == "submitted" else 409
        return _own_page(request, db, settings, account, _messages(refused.problems), status)
    return RedirectResponse(f"/account/binding?done={done}", 303)


@own.get("", response_class=HTMLResponse, summary="企业绑定: state, how to verify")
def binding_page(
    request: Request, db: SessionDep, settings: SettingsDep, viewer: Own
) -> HTMLResponse:
    return _own_page(request, db, settings, viewer.require_account())


@own.post("/documents", summary="Upload 营业执照 and 授权委托书 for staff")
def submit_documents(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    viewer: Own,
    licence: Annotated[UploadFile | None, File(description="营业执照: PDF, JPG or PNG")] = None,
    authorisation: Annotated[
        UploadFile | None, File(description="授权委托书, signed by the legal representative")
    ] = None,
) -> Response:
    limit = settings.max_document_mb << 20
    uploads = [
        *read_upload(licence, documents.LICENCE, limit),
        *read_upload(authorisation, documents.AUTHORISATION, limit),
    ]
    return _own_step(request, db, settings, viewer, "submitted", binding.submit_documents, uploads)


def _provider(settings: Settings) -> identity.Provider:
    provider = identity.Provider.from_settings(settings)
    if provider is None:
        raise HTTPException(404, "未启用统一身份认证 / no identity provider is configured")
    return provider


@own.get("/oidc", summary="Go to the identity provider (统一身份认证) to bind")
def start_identity(
    request: Request, db: SessionDep, settings: SettingsDep, viewer: Own
) -> Response:
    account = viewer.require_account()
    try:
        url = identity.start(db, _provider(settings), account, viewer.start_session(db, request).id)
    except identity.IdentityRefusedError as refused:
        return _own_page(request, db, settings, account, [refused.zh], 502)
    return RedirectResponse(url, 303)


@own.get(
    identity.CALLBACK_PATH.removeprefix(own.prefix),
    response_class=HTMLResponse,
    summary="The identity provider's answer: binds when its token carries this account's USCC",
)
def identity_callback(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    viewer: Own,
    state: Annotated[str, Query(max_length=200)] = "",
    code: Annotated[str, Query(max_length=2000)] = "",
    error: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    account = viewer.require_account()
    answer = identity.Answer(state=state, code=code, error=error)
    try:
        identity.bind(
            db,
            settings,
            _provider(settings),
            account,
            viewer.start_session(db, request).id,
            answer,
            viewer.actor,
        )
    except identity.IdentityRefusedError as refused:
        db.commit()  # the trip is used up and the refusal audited
        return _own_page(request, db, settings, account, [refused.zh], 400)
    except BindingRefusedError as refused:
        db.commit()
        return _own_page(request, db, settings, account, _messages(refused.problems), 400)
    return RedirectResponse("/account/binding?done=verified", 303)


@own.post("/invite", summary="企业管理员: bind another account of the enterprise")
def invite(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    viewer: Own,
    invitee: Annotated[str, Form(max_length=254)] = "",
) -> Response:
    return _own_step(request, db, settings, viewer, "invited", binding.invite, invitee)


@own.post(
    "/members/{binding_id:int}/remove",
    summary="企业管理员: unbind another account of the enterprise",
)
def remove(
    request: Request, binding_id: int, db: SessionDep, settings: SettingsDep, viewer: Own
) -> Response:
    return _own_step(request, db, settings, viewer, "removed", binding.remove, binding_id)


# --- staff ------------------------------------------------------------------------------------


@router.get("", response_class=HTMLResponse, summary="企业绑定核验: the reviewers' queue")
def review_page(
    request: Request,
    db: SessionDep,
    viewer: Reviewer,
    state: Annotated[str, Query(max_length=20)] = binding.PENDING,
) -> HTMLResponse:
    state = state if state in binding.STATE_LABELS else binding.PENDING
    return page(
        request,
        "bindings/review.html",
        {
            "queue": binding.review_queue(db, state),
            "state": state,
            "counts": binding.state_counts(db),
        },
    )


def _binding(db: SessionDep, binding_id: int) -> EnterpriseBinding:
    found = db.get(EnterpriseBinding, binding_id)
    if found is None:
        raise HTTPException(404, NOT_FOUND)
    return found


def _detail_page(
    request: Request,
    db: SessionDep,
    found: EnterpriseBinding,
    problems: list[Problem] | None = None,
    status: int = 200,
) -> HTMLResponse:
    return page(
        request,
        "bindings/detail.html",
        {
            "b": found,
            "account": db.get(Account, found.account_id),
            "documents": binding.documents_of(db, found.id),
            "steps": binding.timeline(db, found.id),
            "colleagues": binding.colleagues_of(db, found.uscc),
            "done": DONE.get(request.query_params.get("done", "")),
            "problems": _messages(problems or []),
        },
        status,
    )


@router.get(
    "/{binding_id:int}",
    response_class=HTMLResponse,
    summary="One binding: the account, its documents, the history",
)
def detail_page(
    request: Request, binding_id: int, db: SessionDep, viewer: Reviewer
) -> HTMLResponse:
    return _detail_page(request, db, _binding(db, binding_id))


@router.get(
    "/{binding_id:int}/documents/{document_id:int}",
    summary="Download one document of a binding (reviewers)",
)
def document_download(
    binding_id: int, document_id: int, db: SessionDep, settings: SettingsDep, viewer: Reviewer
) -> Response:
    found = _binding(db, binding_id)
    document = db.get(BindingDocument, document_id)
    owned = document if document is not None and document.binding_id == found.id else None
    read = DocumentRead("binding.document_read", "binding_document", "binding", found.id)
    return audited_download(
        db,
        viewer.actor,
        settings.uploads_dir,
        owned,
        binding.FOLDER,
        read,
        "没有这个文件 / no such document",
    )


def _staff_step(
    request: Request, db: SessionDep, found: EnterpriseBinding, done: str, step: Callable[[], None]
) -> Response:
    """Take one reviewer's step: back to the binding's page, with the outcome. A step the
    binding's state does not allow answers 409, a missing reason 400."""
    try:
        step()
    except BindingRefusedError as refused:
        wrong_step = any(p.field == "status" for p in refused.problems)
        return _detail_page(request, db, found, refused.problems, 409 if wrong_step else 400)
    return RedirectResponse(f"/bindings/{found.id}?done={done}", 303)


@router.post("/{binding_id:int}/decide", summary="核验通过 or 驳回 (with a reason)")
def decide(
    request: Request,
    binding_id: int,
    db: SessionDep,
    settings: SettingsDep,
    viewer: Reviewer,
    decision: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
) -> Response:
    found = _binding(db, binding_id)
    return _staff_step(
        request,
        db,
        found,
        decision,
        lambda: binding.decide(db, settings, found, decision, reason, viewer.actor),
    )


@router.post("/{binding_id:int}/revoke", summary="解除绑定 (staff, with a reason)")
def revoke(
    request: Request,
    binding_id: int,
    db: SessionDep,
    settings: SettingsDep,
    viewer: Reviewer,
    reason: Annotated[str, Form(max_length=MAX_REASON)] = "",
) -> Response:
    found = _binding(db, binding_id)
    return _staff_step(
        request,
        db,
        found,
        "revoke",
        lambda: binding.revoke(db, settings, found, reason, viewer.actor),
    )
