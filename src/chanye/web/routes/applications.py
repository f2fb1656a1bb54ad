"""快申: an enterprise submits what its push asks for; the policy office verifies or returns it.

Thin: the rules are ``chanye.policy.applications``. The enterprise's form is part of its
pushes page (``/my/policies``) and posts here; staff work through ``/policy-applications``. An
application and its files are seen by their enterprise and by the policy office only.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData
from starlette.datastructures import UploadFile as FormFile

from chanye.policy import applications, workflow
from chanye.policy.model import Items
from chanye.portal.documents import Upload
from chanye.store.models import ApplicationDocument, PolicyApplication, PolicyPush
from chanye.web.areas import Area, Permission
from chanye.web.auth import Viewer, requires
from chanye.web.dependencies import SessionDep, SettingsDep, SystemDep
from chanye.web.pages import area_renderer
from chanye.web.routes import policies
from chanye.web.uploads import DocumentRead, audited_download, read_upload

staff = APIRouter(prefix="/policy-applications", tags=["政策"])
own = APIRouter(prefix="/my/applications", tags=["政策"])
STAFF = Area("policy-applications", staff, Permission("policies", "manage"), docs="routes.md")
OWN = Area("my-applications", own, Permission("policies", "own"), docs="routes.md")

Own = Annotated[Viewer, requires("policies", "own")]
Manage = Annotated[Viewer, requires("policies", "manage")]
page = area_renderer("policies", status_labels=applications.STATUS_LABELS)
NOT_FOUND = "没有这份申报"
ITEM_ROW = re.compile(r"^item-(\d+)-")  # an item row's value on the form
DONE = {
    "verified": "已核实，推送已按申报数据重新判定。",
    "returned": "已退回补正，企业可修改后重新提交。",
}


# --- the enterprise ----------------------------------------------------------------------------


@own.post("/{push_id:int}", summary="快申: submit the values and attachments a push asks for")
def submit(
    request: Request,
    push_id: int,
    db: SessionDep,
    settings: SettingsDep,
    system: SystemDep,
    viewer: Own,
    form: Annotated[FormData, Depends(submitted_form)],
    value: Annotated[list[str] | None, Form(description="In the order the policy declares")] = None,
    attachment: Annotated[
        list[UploadFile] | None, File(description="In the order the policy names them")
    ] = None,
) -> Response:
    account = viewer.require_account()
    push = db.get(PolicyPush, push_id)
    if push is None:
        raise HTTPException(404, "没有这条推送")
    version = policies.version_or_404(db, push.policy_version_id)
    policy = workflow.policy_of(version)
    limit = settings.max_document_mb << 20
    uploads = [
        upload
        for index, file in enumerate(attachment or [])
        for upload in read_upload(file, applications.attachment_key(index), limit)
    ]
    texts = dict(zip((f.id for f in policy.application), value or [], strict=False))
    rows, item_uploads = _item_rows(policy.items, form, limit)
    submission = applications.Submission(
        texts, uploads + item_uploads, settings.uploads_dir, settings.max_document_mb, rows
    )
    try:
        applications.submit(db, push, account, viewer.actor, submission)
    except workflow.NotYourPushError:
        db.commit()  # the refusal is audited; another enterprise's push answers like a missing one
        raise HTTPException(404, "没有这条推送") from None
    except workflow.WorkflowRefusedError as refused:
        problems = getattr(refused, "problems", [])
        return policies.pushes_page(
            request,
            db,
            system,
            viewer,
            400,
            error=str(refused),
            application_problems={push.id: {p.field: p.zh for p in problems}},
            typed={push.id: texts},
            typed_items={push.id: rows},
        )
    db.commit()
    return RedirectResponse(f"/my/policies?result=applied#push-{push.id}", status_code=303)


async def submitted_form(request: Request) -> FormData:
    """The whole form (item rows are named by their row: ``item-0-equipment_spend``); Starlette
    parses it once, for the declared fields too."""
    return await request.form()


def _item_rows(
    items: Items | None, form: FormData, limit: int
) -> tuple[list[dict[str, str]], list[Upload]]:
    """Each item row as typed, in form order, and the files attached to each. The rows are
    numbered again from 0 (a page may number them with gaps), files and faults with them."""
    if items is None:
        return [], []
    rows, uploads = [], []
    numbers = sorted({int(m.group(1)) for key in form if (m := ITEM_ROW.match(key))})
    # One over the most: enough to say there are too many.
    for position, row in enumerate(numbers[: items.most + 1]):
        typed = {f.id: form.get(applications.item_key(row, f.id)) for f in items.fields}
        rows.append({k: v if isinstance(v, str) else "" for k, v in typed.items()})
        for index, _label in enumerate(applications.attachment_labels(items.fields)):
            file = form.get(applications.attachment_key(index, row))
            if isinstance(file, FormFile):  # what the form holds (FastAPI's is a subclass)
                uploads += read_upload(file, applications.attachment_key(index, position), limit)
    return rows, uploads


# --- the policy office -------------------------------------------------------------------------


@staff.get("", response_class=HTMLResponse, summary="快申: applications to verify")
def queue(request: Request, db: SessionDep, viewer: Manage) -> HTMLResponse:
    return page(request, "applications/list.html", {"rows": applications.pending(db)})


def _application(db: SessionDep, application_id: int) -> PolicyApplication:
    found = db.get(PolicyApplication, application_id)
    if found is None:
        raise HTTPException(404, NOT_FOUND)
    return found


def _detail(
    request: Request,
    db: SessionDep,
    system: SystemDep,
    application: PolicyApplication,
    status: int = 200,
    **extra: object,
) -> HTMLResponse:
    push = db.get(PolicyPush, application.push_id)
    if push is None:
        raise HTTPException(404, NOT_FOUND)
    version = policies.version_or_404(db, push.policy_version_id)
    policy = workflow.policy_of(version)
    context = {
        "application": application,
        "push": push,
        "version": version,
        "fields": policy.application,
        "items": policy.items,
        "values": applications.values_of(application),
        "documents": applications.documents_of(db, application.id),
        "x": workflow.explanation_of(push, version),
        "push_labels": workflow.PUSH_LABELS,
        "done": DONE.get(request.query_params.get("done", "")),
        **policies.value_labels(request, system),
        **extra,
    }
    return page(request, "applications/detail.html", context, status)


@staff.get("/{application_id:int}", response_class=HTMLResponse, summary="快申: one application")
def detail(
    request: Request, application_id: int, db: SessionDep, system: SystemDep, viewer: Manage
) -> HTMLResponse:
    return _detail(request, db, system, _application(db, application_id))


@staff.post("/{application_id:int}/review", summary="快申: verify (核实通过) or return (退回补正)")
def review(
    request: Request,
    application_id: int,
    db: SessionDep,
    settings: SettingsDep,
    system: SystemDep,
    viewer: Manage,
    decision: Annotated[str, Form(pattern="^(verify|return)$")],
    note: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    application = _application(db, application_id)
    try:
        with policies.population(request, settings) as loaded:
            applications.review(db, application, viewer.actor, decision == "verify", note, loaded)
    except workflow.WorkflowRefusedError as refused:
        return _detail(request, db, system, application, 409, error=str(refused))
    db.commit()
    done = "verified" if decision == "verify" else "returned"
    return RedirectResponse(f"/policy-applications/{application.id}?done={done}", 303)


@staff.get(
    "/{application_id:int}/documents/{document_id:int}",
    summary="快申: download one attachment (audited)",
)
def document_download(
    application_id: int,
    document_id: int,
    db: SessionDep,
    settings: SettingsDep,
    viewer: Manage,
) -> Response:
    application = _application(db, application_id)
    document = db.get(ApplicationDocument, document_id)
    owned = document if document is not None and document.application_id == application.id else None
    read = DocumentRead(
        "policy.application.document_read",
        "policy_application_document",
        "application",
        application.id,
    )
    return audited_download(
        db, viewer.actor, settings.uploads_dir, owned, applications.FOLDER, read
    )
