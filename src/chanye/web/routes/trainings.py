"""Trainings (培训): the list, a training's page with sign-up and cancel, the calendar file, and
for staff the create/edit forms and the attendee list with its Excel export.

Thin: capacity, the waiting list and every rule are ``chanye.portal.trainings``'s.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from chanye.portal import trainings
from chanye.portal.mail import MailSettings
from chanye.store.models import Training
from chanye.web import workbench
from chanye.web.areas import Area, NavEntry, Permission
from chanye.web.auth import Viewer, requires
from chanye.web.dependencies import SessionDep, SettingsDep
from chanye.web.forms import TrainingFields
from chanye.web.pages import area_renderer

router = APIRouter(prefix="/trainings", tags=["培训"])
AREA = Area(
    "trainings",
    router,
    Permission("trainings", "read"),
    docs="routes.md",
    nav=NavEntry("培训", "近期培训：报名、候补与签到名单。"),
    cards=workbench.TRAINING_CARDS,
)

Read = Annotated[Viewer, requires("trainings", "read")]
SignUp = Annotated[Viewer, requires("trainings", "signup")]
Manage = Annotated[Viewer, requires("trainings", "manage")]

# What a sign-up or cancel did, shown on the training's page after the redirect (fixed texts:
# nothing from the query string reaches the page).
RESULTS = {
    "confirmed": "报名成功，名额已确认。",
    "waitlisted": "名额已满，您已进入候补名单；有人取消时将按顺序递补并邮件通知您。",
    "cancelled": "已取消报名。",
    "closed": "该培训已开始、已结束或已取消，不能报名或取消报名。",
    "not_signed_up": "您没有报名该培训。",
    "created": "培训已发布。",
    "updated": "培训信息已保存。",
}


page = area_renderer("trainings")


def _training(db: SessionDep, training_id: int) -> Training:
    training = db.get(Training, training_id)
    if training is None:
        raise HTTPException(404, f"没有编号为 {training_id} 的培训")
    return training


def _mailer(settings: SettingsDep) -> trainings.Mailer:
    return trainings.Mailer(MailSettings.from_settings(settings), settings.site_url)


@router.get("", response_class=HTMLResponse, summary="Trainings: upcoming, then past")
def training_list(request: Request, db: SessionDep, viewer: Read) -> HTMLResponse:
    coming, past = trainings.listing(db)
    counts = trainings.confirmed_counts(db, [t.id for t in coming])
    left = {t.id: max(t.capacity - counts[t.id], 0) for t in coming}
    return page(request, "trainings/list.html", {"coming": coming, "past": past, "left": left})


@router.get("/new", response_class=HTMLResponse, summary="Form: a new training")
def new_training_page(request: Request, viewer: Manage) -> HTMLResponse:
    draft = trainings.TrainingDraft("", "", "", "", "", "", "30")
    return page(request, "trainings/form.html", {"form": draft, "problems": {}, "training": None})


def training_form(fields: Annotated[TrainingFields, Form()]) -> trainings.TrainingDraft:
    """The create and edit forms' fields, as the domain's draft (checked there)."""
    return fields.draft()


TrainingForm = Annotated[trainings.TrainingDraft, Depends(training_form)]


def _problems(refused: trainings.TrainingRefusedError) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    for problem in refused.problems:
        problems.setdefault(problem.field, []).append(f"{problem.zh} / {problem.en}")
    return problems


@router.post("", summary="Create a training")
def create_training(
    request: Request,
    db: SessionDep,
    viewer: Manage,
    draft: TrainingForm,
) -> Response:
    draft = dataclasses.replace(draft, status="open")  # a new training always opens
    try:
        training = trainings.create_training(db, draft, viewer.actor)
    except trainings.TrainingRefusedError as refused:
        context = {"form": draft, "problems": _problems(refused), "training": None}
        return page(request, "trainings/form.html", context, status=400)
    return RedirectResponse(f"/trainings/{training.id}?result=created", status_code=303)


@router.get("/{training_id:int}", response_class=HTMLResponse, summary="A training: sign up here")
def training_page(
    request: Request, training_id: int, db: SessionDep, viewer: Read, result: str = ""
) -> HTMLResponse:
    training = _training(db, training_id)
    context = {
        "training": training,
        "summary_html": trainings.summary_html(training.summary),
        "place": trainings.place_of(db, training, viewer.account),
        "left": trainings.places_left(db, training),
        "started": trainings.has_started(training),
        "message": RESULTS.get(result),
        "login_next": quote(f"/trainings/{training.id}"),
    }
    return page(request, "trainings/detail.html", context)


@router.get("/{training_id:int}.ics", summary="A training as an iCalendar file")
def training_ics(training_id: int, db: SessionDep, settings: SettingsDep, viewer: Read) -> Response:
    training = _training(db, training_id)
    return Response(
        trainings.ics(training, settings.site_url),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="training-{training.id}.ics"'},
    )


def _back(training_id: int, result: str) -> RedirectResponse:
    return RedirectResponse(f"/trainings/{training_id}?result={result}#signup-status", 303)


@router.post("/{training_id:int}/signup", summary="Sign up (or join the waiting list)")
def sign_up(training_id: int, db: SessionDep, viewer: SignUp) -> Response:
    training = _training(db, training_id)
    if viewer.account is None:  # requires() already sent anonymous visitors to the login page
        raise HTTPException(401)
    try:
        place = trainings.sign_up(db, training, viewer.account, viewer.actor)
    except trainings.TrainingRefusedError:
        return _back(training_id, "closed")
    return _back(training_id, place.status or "closed")


@router.post("/{training_id:int}/cancel", summary="Cancel my sign-up")
def cancel(training_id: int, db: SessionDep, settings: SettingsDep, viewer: SignUp) -> Response:
    training = _training(db, training_id)
    if viewer.account is None:
        raise HTTPException(401)
    if trainings.place_of(db, training, viewer.account).status is None:
        return _back(training_id, "not_signed_up")
    try:
        trainings.cancel(db, training, viewer.account, viewer.actor, _mailer(settings))
    except trainings.TrainingRefusedError:
        return _back(training_id, "closed")
    return _back(training_id, "cancelled")


@router.get("/{training_id:int}/edit", response_class=HTMLResponse, summary="Form: edit")
def edit_training_page(
    request: Request, training_id: int, db: SessionDep, viewer: Manage
) -> HTMLResponse:
    training = _training(db, training_id)
    context = {"form": trainings.draft_of(training), "problems": {}, "training": training}
    return page(request, "trainings/form.html", context)


@router.post("/{training_id:int}", summary="Save a training's changes")
def update_training(
    request: Request,
    training_id: int,
    db: SessionDep,
    settings: SettingsDep,
    viewer: Manage,
    draft: TrainingForm,
) -> Response:
    training = _training(db, training_id)
    try:
        trainings.update_training(db, training, draft, viewer.actor, _mailer(settings))
    except trainings.TrainingRefusedError as refused:
        context = {"form": draft, "problems": _problems(refused), "training": training}
        return page(request, "trainings/form.html", context, status=400)
    return RedirectResponse(f"/trainings/{training_id}?result=updated", status_code=303)


@router.get(
    "/{training_id:int}/attendees",
    response_class=HTMLResponse,
    summary="Attendees: confirmed, then the waiting list",
)
def attendees_page(
    request: Request, training_id: int, db: SessionDep, viewer: Manage
) -> HTMLResponse:
    training = _training(db, training_id)
    rows = trainings.attendees(db, training)
    context = {
        "training": training,
        "confirmed": [r for r in rows if r.status == trainings.CONFIRMED],
        "waiting": [r for r in rows if r.status == trainings.WAITLISTED],
    }
    return page(request, "trainings/attendees.html", context)


@router.get("/{training_id:int}/attendees.xlsx", summary="Attendees as an Excel file")
def attendees_xlsx(training_id: int, db: SessionDep, viewer: Manage) -> Response:
    training = _training(db, training_id)
    return Response(
        trainings.attendees_xlsx(db, training),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f'attachment; filename="training-{training.id}-attendees.xlsx"'
        },
    )
