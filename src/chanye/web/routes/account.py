"""Sign-in and the account: login with captcha (and a second factor), logout, registration with
e-mail confirmation, forgotten and changed passwords, two-factor enrolment.

Thin: every decision is ``chanye.portal``'s; this module turns forms into calls and results into
pages.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from chanye.portal import accounts, binding, emails, totp
from chanye.portal.captcha import check_challenge, exposed_answer, new_challenge
from chanye.portal.mail import MailSettings, deliver
from chanye.portal.sessions import end_all_sessions, end_session, open_session, update_session
from chanye.portal.tokens import (
    CONFIRM_EMAIL,
    RESET_PASSWORD,
    TokenRefusedError,
    issue_decoy_token,
    issue_token,
    redeem_token,
)
from chanye.store.audit import Actor, record
from chanye.store.database import session_scope
from chanye.store.models import Account
from chanye.web.areas import Area, Permission
from chanye.web.auth import (
    REMEMBER_COOKIE,
    Viewer,
    profile_for,
    remember_account,
    requires,
    safe_next,
    set_session_cookie,
)
from chanye.web.dependencies import SessionDep, SettingsDep, SystemDep
from chanye.web.forms import RegistrationFields
from chanye.web.pages import area_renderer

router = APIRouter(tags=["账号"])
AREA = Area("account", router, Permission("login", "use"), docs="routes.md", nav=None)

WORKBENCH = "/workbench"
LoginUse = Annotated[Viewer, requires("login", "use")]
AccountSelf = Annotated[Viewer, requires("account", "self")]
CONFIRM_HOURS = 24


page = area_renderer("members")


def captcha_ok(request: Request, db: SessionDep, viewer: Viewer, answer: str) -> bool:
    """Check the captcha this session was shown; it is used up either way."""
    row = viewer.web_session
    challenge_id = row.captcha_id if row is not None else None
    if row is None or not challenge_id:
        return False
    update_session(db, row, captcha_id=None)
    return check_challenge(db, challenge_id, answer)


def _mail(db: Session, settings: SettingsDep, to: str, mail: emails.Mail) -> None:
    deliver(db, MailSettings.from_settings(settings), to, mail)


def _mail_later(settings: SettingsDep, to: str, mail: emails.Mail) -> None:
    """For a background task: the request's connection is back in the pool by then."""
    with session_scope(settings.resolved_database_url, settings.pool_options) as db:
        _mail(db, settings, to, mail)


# --- captcha -------------------------------------------------------------------------------


@router.get("/captcha.png", summary="A new image captcha for this session's next form")
def captcha_image(
    request: Request, db: SessionDep, settings: SettingsDep, viewer: LoginUse
) -> Response:
    challenge = new_challenge(db, expose_answer=settings.testing_expose_captcha)
    update_session(db, viewer.start_session(db, request), captcha_id=challenge.id)
    return Response(challenge.png, media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/captcha/refresh", response_class=HTMLResponse, summary="New captcha image (HTMX)")
def captcha_refresh(request: Request, viewer: LoginUse) -> HTMLResponse:
    return page(request, "account/_captcha_image.html")


def testing_router() -> APIRouter:
    """TESTING ONLY (setting ``testing_expose_captcha``): a router, made for one app, that tells a
    session the answer of its captcha."""
    testing = APIRouter()

    @testing.get("/testing/captcha-answer", summary="TESTING ONLY: this session's captcha answer")
    def captcha_answer(db: SessionDep, viewer: LoginUse) -> JSONResponse:
        row = viewer.web_session
        challenge = row.captcha_id if row is not None else None
        return JSONResponse({"answer": exposed_answer(db, challenge) if challenge else None})

    return testing


# --- login and logout ----------------------------------------------------------------------


def landing(next_path: str | None) -> str:
    """Where a login leads: the local page asked for, else the account's workbench (工作台)."""
    target = safe_next(next_path)
    return WORKBENCH if target == "/" else target


@router.get("/login", response_class=HTMLResponse, summary="Login page")
def login_page(request: Request, viewer: LoginUse, next: str = "/") -> Response:
    if viewer.account is not None:
        return RedirectResponse(landing(next), status_code=303)
    return page(request, "account/login.html", _login_context(request, next))


def _login_context(request: Request, next_path: str, **extra: Any) -> dict[str, Any]:
    remembered = unquote(request.cookies.get(REMEMBER_COOKIE, ""))
    return {
        "next": safe_next(next_path),
        "remembered": remembered,
        "hide_header_login": True,
        **extra,
    }


@router.post("/login", summary="Log in: account, password, captcha, remember account")
def login(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    viewer: LoginUse,
    account: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=256)] = "",
    captcha: Annotated[str, Form(max_length=16)] = "",
    remember: Annotated[str | None, Form(max_length=8)] = None,
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    def refuse(zh: str, en: str) -> HTMLResponse:
        context = _login_context(request, next, error=f"{zh}", error_en=en, account=account)
        return page(request, "account/login.html", context, status=400)

    if not captcha_ok(request, db, viewer, captcha):
        record(
            db,
            viewer.actor,
            "login.captcha_failed",
            "account",
            account.strip().lower(),
            result="failure",
        )
        return refuse("验证码错误或已过期，请输入新的验证码", "wrong or expired captcha")
    result = accounts.authenticate(db, account, password, viewer.client_addr, profile_for(settings))
    if not result.ok or result.account is None:
        return refuse(result.zh, result.en)
    user = result.account
    # A new session at login: whatever id the visitor arrived with is discarded (no fixation).
    if viewer.web_session is not None:
        end_session(db, viewer.web_session)
    pending = user.totp_secret is not None
    token, _row = open_session(
        db, viewer.client_addr, account_id=user.id, second_factor_pending=pending
    )
    set_session_cookie(request, token)
    remember_account(request, account.strip() if remember else None)
    target = landing(next)
    if pending:
        return RedirectResponse(f"/login/totp?next={quote(target)}", status_code=303)
    return RedirectResponse(target, status_code=303)


@router.get("/login/totp", response_class=HTMLResponse, summary="Second login step: one-time code")
def login_totp_page(request: Request, viewer: LoginUse, next: str = "/") -> Response:
    if viewer.web_session is None or not viewer.web_session.second_factor_pending:
        return RedirectResponse("/login", status_code=303)
    return page(
        request, "account/login_totp.html", {"next": safe_next(next), "hide_header_login": True}
    )


@router.post("/login/totp", summary="Second login step: check the one-time code")
def login_totp(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    viewer: LoginUse,
    code: Annotated[str, Form(max_length=16)] = "",
    next: Annotated[str, Form(max_length=500)] = "/",
) -> Response:
    pending = viewer.web_session
    user = (
        db.get(Account, pending.account_id) if pending and pending.second_factor_pending else None
    )
    if pending is None or user is None or not user.totp_secret:
        return RedirectResponse("/login", status_code=303)
    checked = accounts.check_second_factor(
        db, user, code, viewer.client_addr, profile_for(settings)
    )
    if checked.retry_at is not None:
        end_session(db, pending)
        return page(
            request,
            "account/login.html",
            _login_context(request, next, error=checked.zh),
            status=400,
        )
    if not checked.ok:
        context = {"next": safe_next(next), "error": checked.zh, "hide_header_login": True}
        return page(request, "account/login_totp.html", context, status=400)
    end_session(db, pending)
    token, _row = open_session(db, viewer.client_addr, account_id=user.id)
    set_session_cookie(request, token)
    return RedirectResponse(landing(next), status_code=303)


@router.post("/logout", summary="Log out (ends the session)")
def logout(request: Request, db: SessionDep, viewer: LoginUse) -> Response:
    if viewer.account is not None:
        record(db, viewer.actor, "logout", "account", str(viewer.account.id))
    if viewer.web_session is not None:
        end_session(db, viewer.web_session)
    return RedirectResponse("/", status_code=303)


# --- registration --------------------------------------------------------------------------


@router.get("/register", response_class=HTMLResponse, summary="Registration form")
def register_page(request: Request, viewer: LoginUse, kind: str = "enterprise") -> HTMLResponse:
    kind = kind if kind in ("enterprise", "individual") else "enterprise"
    context = {"form": {"kind": kind}, "problems": {}, "hide_header_login": True}
    return page(request, "account/register.html", context)


@router.post("/register", summary="Register an enterprise or an individual")
def register(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    viewer: LoginUse,
    fields: Annotated[RegistrationFields, Form()],
) -> Response:
    form = fields.shown()
    problems: dict[str, list[str]] = {}
    if not captcha_ok(request, db, viewer, fields.captcha):
        problems["captcha"] = ["验证码错误或已过期"]
    if fields.password != fields.password_again:
        problems["password_again"] = ["两次输入的密码不一致"]
    registration = fields.registration()
    for problem in accounts.registration_problems(db, registration, profile_for(settings)):
        problems.setdefault(problem.field, []).append(problem.zh)
    if problems:
        context = {"form": form, "problems": problems, "hide_header_login": True}
        return page(request, "account/register.html", context, 400)
    user = accounts.register(db, registration, profile_for(settings), viewer.client_addr)
    token = issue_token(db, user, CONFIRM_EMAIL, dt.timedelta(hours=CONFIRM_HOURS))
    link = f"{settings.site_url}/register/confirm?token={token}"
    _mail(db, settings, user.email, emails.confirm_email(user.display_name, link))
    unverified = (
        "企业账号登录后须先完成企业绑定核验（上传营业执照和授权委托书，或统一身份认证），"
        "核验通过前看不到本企业的任何信息，也不能办理政策推送。"
        if user.enterprise_uscc
        else ""
    )
    return page(
        request,
        "account/message.html",
        {
            "title": "注册成功，请确认邮箱",
            "message": f"确认邮件已发送至 {user.email}，请在 {CONFIRM_HOURS} 小时内点击邮件中的链接完成注册。"
            + unverified,
        },
    )


@router.get("/register/confirm", response_class=HTMLResponse, summary="Confirm an e-mail address")
def confirm(request: Request, db: SessionDep, viewer: LoginUse, token: str = "") -> HTMLResponse:
    try:
        user = redeem_token(db, token, CONFIRM_EMAIL)
    except TokenRefusedError as refused:
        return page(
            request,
            "account/message.html",
            {"title": "无法确认邮箱", "message": refused.zh, "error": True},
            400,
        )
    accounts.confirm_email(db, user, viewer.client_addr)
    return page(
        request,
        "account/message.html",
        {
            "title": "邮箱已确认",
            "message": "您的邮箱已确认，现在可以登录了。",
            "login_link": True,
        },
    )


# --- forgotten password --------------------------------------------------------------------


@router.get("/password/forgot", response_class=HTMLResponse, summary="Forgot-password form")
def forgot_page(request: Request, viewer: LoginUse) -> HTMLResponse:
    return page(request, "account/forgot.html", {"hide_header_login": True})


@router.post("/password/forgot", summary="Send a single-use reset link by e-mail")
def forgot(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    viewer: LoginUse,
    background: BackgroundTasks,
    account: Annotated[str, Form(max_length=254)] = "",
    captcha: Annotated[str, Form(max_length=16)] = "",
) -> HTMLResponse:
    if not captcha_ok(request, db, viewer, captcha):
        return page(
            request,
            "account/forgot.html",
            {"error": "验证码错误或已过期", "account": account, "hide_header_login": True},
            400,
        )
    user = accounts.find_account(db, account)
    minutes = profile_for(settings).reset_link_minutes
    record(
        db,
        viewer.actor,
        "password.reset_requested",
        "account",
        account.strip().lower(),
        result="success" if user else "unknown",
    )
    if user is not None and user.status == "active":
        token = issue_token(db, user, RESET_PASSWORD, dt.timedelta(minutes=minutes))
        link = f"{settings.site_url}/password/reset?token={token}"
        # Sent after the answer: the time to answer must not tell whether the account exists.
        mail = emails.reset_password(user.display_name, link, minutes)
        background.add_task(_mail_later, settings, user.email, mail)
    else:
        issue_decoy_token(db, RESET_PASSWORD)
    # The same answer whether or not the account exists: the form must not reveal accounts.
    return page(
        request,
        "account/message.html",
        {
            "title": "重置链接已发送",
            "message": f"如果该账号存在，重置密码的链接已发送到其注册邮箱，{minutes} 分钟内有效，只能使用一次。",
        },
    )


@router.get("/password/reset", response_class=HTMLResponse, summary="Set a new password (link)")
def reset_page(request: Request, db: SessionDep, viewer: LoginUse, token: str = "") -> HTMLResponse:
    try:
        redeem_token(db, token, RESET_PASSWORD, use=False)
    except TokenRefusedError as refused:
        return page(
            request,
            "account/message.html",
            {"title": "无法重置密码", "message": refused.zh, "error": True},
            400,
        )
    return page(request, "account/reset.html", {"token": token, "hide_header_login": True})


@router.post("/password/reset", summary="Set a new password with a reset link's token")
def reset(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    viewer: LoginUse,
    token: Annotated[str, Form(max_length=100)] = "",
    new_password: Annotated[str, Form(max_length=256)] = "",
    new_password_again: Annotated[str, Form(max_length=256)] = "",
) -> HTMLResponse:
    try:
        user = redeem_token(db, token, RESET_PASSWORD, use=False)
        if new_password != new_password_again:
            raise accounts.AccountRefusedError.because(
                "new_password_again", "两次输入的密码不一致", "passwords differ"
            )
        accounts.set_password(
            db,
            user,
            new_password,
            profile_for(settings),
            Actor(user.username, user.role, viewer.client_addr),
            "account.reset_password",
        )
        redeem_token(db, token, RESET_PASSWORD)
    except TokenRefusedError as refused:
        return page(
            request,
            "account/message.html",
            {"title": "无法重置密码", "message": refused.zh, "error": True},
            400,
        )
    except accounts.AccountRefusedError as refused:
        return page(
            request,
            "account/reset.html",
            {
                "token": token,
                "problems": [p.zh for p in refused.problems],
                "hide_header_login": True,
            },
            400,
        )
    end_all_sessions(db, user.id)
    _mail(db, settings, user.email, emails.password_changed(user.display_name))
    return page(
        request,
        "account/message.html",
        {
            "title": "密码已重置",
            "message": "新密码已生效，请用新密码登录。",
            "login_link": True,
        },
    )


# --- the account itself --------------------------------------------------------------------


@router.get("/account", response_class=HTMLResponse, summary="My account")
def account_page(
    request: Request, db: SessionDep, viewer: AccountSelf, system: SystemDep
) -> HTMLResponse:
    account = viewer.require_account()
    names = {ind.id: ind.name for _, ind in system.industries()}
    industries = [names.get(i, "（产业体系中已没有此产业）") for i in viewer.scope.industries]
    standing = binding.standing(db, account) if account.enterprise_uscc else None
    return page(
        request,
        "account/profile.html",
        {"scope_names": industries, "standing": standing, "state_labels": binding.STATE_LABELS},
    )


@router.get("/account/password", response_class=HTMLResponse, summary="Change-password form")
def password_page(request: Request, viewer: AccountSelf) -> HTMLResponse:
    return page(request, "account/password.html")


@router.post("/account/password", summary="Change my password")
def change_password(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    viewer: AccountSelf,
    current_password: Annotated[str, Form(max_length=256)] = "",
    new_password: Annotated[str, Form(max_length=256)] = "",
    new_password_again: Annotated[str, Form(max_length=256)] = "",
) -> Response:
    user = viewer.require_account()
    try:
        if new_password != new_password_again:
            raise accounts.AccountRefusedError.because(
                "new_password_again", "两次输入的密码不一致", "passwords differ"
            )
        accounts.change_password(
            db, user, current_password, new_password, profile_for(settings), viewer.client_addr
        )
    except accounts.AccountRefusedError as refused:
        return page(
            request, "account/password.html", {"problems": [p.zh for p in refused.problems]}, 400
        )
    # Other sessions of this account end; this one continues under a new id.
    end_all_sessions(db, user.id)
    token, _row = open_session(db, viewer.client_addr, account_id=user.id)
    set_session_cookie(request, token)
    _mail(db, settings, user.email, emails.password_changed(user.display_name))
    return RedirectResponse("/account?changed=password", status_code=303)


@router.get("/account/totp", response_class=HTMLResponse, summary="Set up two-factor login")
def totp_page(request: Request, viewer: AccountSelf) -> HTMLResponse:
    return page(
        request, "account/totp.html", _totp_context(viewer.require_account(), totp.new_secret())
    )


def _totp_context(user: Account, secret: str, **extra: Any) -> dict[str, Any]:
    uri = totp.provisioning_uri(secret, user.username)
    return {"secret": secret, "qr": totp.qr_data_url(uri), **extra}


@router.post("/account/totp", summary="Turn on two-factor login, or replace the authenticator")
def enable_totp(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    viewer: AccountSelf,
    secret: Annotated[str, Form(min_length=16, max_length=64, pattern="^[A-Z2-7]+=*$")],
    code: Annotated[str, Form(max_length=16)] = "",
    current_password: Annotated[str, Form(max_length=256)] = "",
    current_code: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    user = viewer.require_account()
    replacing = user.totp_secret is not None
    try:
        accounts.enrol_second_factor(
            db,
            user,
            secret,
            code,
            (current_password, current_code),
            viewer.client_addr,
            profile_for(settings),
        )
    except accounts.AccountRefusedError as refused:
        error = "；".join(problem.zh for problem in refused.problems)
        return page(request, "account/totp.html", _totp_context(user, secret, error=error), 400)
    _mail(db, settings, user.email, emails.second_factor_changed(user.display_name, replacing))
    return RedirectResponse("/account?changed=totp", status_code=303)
