"""Who is asking: the browser session, the account behind it, CSRF checks and route requirements.

Every page and API route declares one requirement (``requires(obj, act)``); the decision is the
casbin policy's (``chanye.web.access``). The same ``Viewer`` tells templates who is logged in and
carries the audit ``Actor`` into the domain functions.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.responses import Response

from chanye.config import Settings
from chanye.portal.accounts import assigned_industries
from chanye.portal.binding import verified_uscc
from chanye.portal.roles import ANONYMOUS, is_staff, label
from chanye.portal.security_profile import SecurityProfile, profile_named
from chanye.portal.sessions import load_session, open_session
from chanye.registry.scope import NOTHING, Scope, scope_for
from chanye.store.audit import Actor, record
from chanye.store.models import Account, WebSession, utcnow
from chanye.web.access import allows
from chanye.web.dependencies import SESSION, SessionDep, SettingsDep, get_settings

SESSION_COOKIE = "chanye_session"
# The CSRF token of a visitor without a session: a random value in a cookie that the page's forms
# repeat (double submit). A browser session (a database row) is opened only when state is really
# needed (a captcha shown, a form posted), and it takes this token over, so forms already on the
# screen stay valid. Logging in opens a new session with a new token.
CSRF_COOKIE = "chanye_csrf"
REMEMBER_COOKIE = "chanye_account"  # the account NAME only, never a password
REMEMBER_DAYS = 180
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_TOKEN_LENGTH = len(secrets.token_urlsafe(32))


def client_addr(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def profile_for(settings: Settings) -> SecurityProfile:
    return profile_named(settings.security_profile)


@dataclass
class Viewer:
    """The person behind a request (or an anonymous visitor) and their browser session.

    ``web_session`` is None for a visitor without one (anonymous page views write nothing); a
    route that needs state calls ``start_session``. What pages show (name, role, CSRF token) is
    copied out of the database rows when the request starts, so that an error page can still be
    drawn after a failed request rolled them back.
    """

    web_session: WebSession | None
    client_addr: str
    account: Account | None = None
    profile: SecurityProfile | None = None
    notice: str | None = None
    role: str = ANONYMOUS
    username: str = "anonymous"
    display_name: str = ""
    csrf_token: str = ""
    scope: Scope = NOTHING  # which enterprises this viewer may see (chanye.registry.scope)

    @classmethod
    def of(
        cls,
        row: WebSession | None,
        addr: str,
        account: Account | None,
        profile: SecurityProfile,
        notice: str | None,
        csrf_token: str,
        own_uscc: str | None = None,
    ) -> Viewer:
        viewer = cls(row, addr, account, profile, notice, csrf_token=csrf_token)
        if account is not None:
            viewer.role, viewer.username = account.role, account.username
            viewer.display_name = account.display_name
            viewer.scope = scope_for(account.role, assigned_industries(account), own_uscc)
        return viewer

    def start_session(self, db: Session, request: Request) -> WebSession:
        """This visitor's browser session, opened now if there is none yet."""
        if self.web_session is None:
            token, self.web_session = open_session(db, self.client_addr, csrf_token=self.csrf_token)
            set_session_cookie(request, token)
        return self.web_session

    @property
    def role_label(self) -> str:
        return label(self.role)

    @property
    def is_staff(self) -> bool:
        return is_staff(self.role)

    @property
    def actor(self) -> Actor:
        return Actor(self.username, self.role, self.client_addr)

    def require_account(self) -> Account:
        """The logged-in account (for routes whose requirement already refused anonymous
        visitors; the check keeps the type honest)."""
        if self.account is None:
            raise HTTPException(401, "请先登录")
        return self.account

    def may(self, obj: str, act: str) -> bool:
        return allows(self.role, obj, act)

    @property
    def must_change_password(self) -> bool:
        if self.account is None:
            return False
        if self.account.must_change_password:
            return True
        max_age = self.profile.password_max_age_days if self.profile else 0
        changed = self.account.password_changed_at
        changed = changed if changed.tzinfo else changed.replace(tzinfo=dt.UTC)
        return max_age > 0 and utcnow() - changed > dt.timedelta(days=max_age)

    @property
    def must_enrol_second_factor(self) -> bool:
        return bool(
            self.account
            and self.is_staff
            and self.profile
            and self.profile.staff_two_factor
            and not self.account.totp_secret
        )


@dataclass
class PendingCookies:
    """Cookies a request wants set or cleared; ``CookieMiddleware`` applies them."""

    set: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)


def pending_cookies(request: Request) -> PendingCookies:
    if not hasattr(request.state, "pending_cookies"):
        request.state.pending_cookies = PendingCookies()
    cookies: PendingCookies = request.state.pending_cookies
    return cookies


def set_cookie(request: Request, name: str, value: str, **options: Any) -> None:
    """Set an HttpOnly, same-site cookie on this request's response (Secure unless turned off)."""
    settings: Settings = request.app.state.settings
    options = {
        "httponly": True,
        "secure": settings.cookie_secure,
        "samesite": "lax",
        "path": "/",
        **options,
    }
    pending_cookies(request).set.append((name, value, options))


def set_session_cookie(request: Request, token: str) -> None:
    set_cookie(request, SESSION_COOKIE, token)


def remember_account(request: Request, account_name: str | None) -> None:
    """Remember the account name for the login box, or forget it (``None``)."""
    if account_name is None:
        pending_cookies(request).delete.append(REMEMBER_COOKIE)
        return
    set_cookie(request, REMEMBER_COOKIE, quote(account_name), max_age=REMEMBER_DAYS * 86400)


class CookieMiddleware(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        pending: PendingCookies | None = getattr(request.state, "pending_cookies", None)
        if pending is not None:
            for name in pending.delete:
                response.delete_cookie(name, path="/")
            for name, value, options in pending.set:
                response.set_cookie(name, value, **options)
        return response


def get_viewer(request: Request, db: SessionDep, settings: SettingsDep) -> Viewer:
    """The viewer of this request. Reading pages writes nothing for a visitor without a session:
    the CSRF token then comes from a cookie, and the session is opened when needed."""
    cached: Viewer | None = getattr(request.state, "viewer", None)
    if cached is not None:
        return cached
    profile = profile_for(settings)
    addr = client_addr(request)
    sent = request.cookies.get(SESSION_COOKIE)
    loaded = load_session(db, sent, profile.idle_timeout_minutes)
    notice = None
    if loaded.timed_out_account is not None:
        account = db.get(Account, loaded.timed_out_account)
        if account is not None:
            record(
                db,
                Actor(account.username, account.role, addr),
                "session.timeout",
                "account",
                str(account.id),
            )
        notice = f"超过 {profile.idle_timeout_minutes} 分钟未操作，已自动退出，请重新登录。"
    row = loaded.row
    if row is None and sent:  # an ended or made-up session id is of no use: forget it
        pending_cookies(request).delete.append(SESSION_COOKIE)
    account = None
    if row is not None and row.account_id is not None and not row.second_factor_pending:
        account = db.get(Account, row.account_id)
        if account is not None and account.status != "active":
            account = None
    csrf = row.csrf_token if row is not None else _anonymous_csrf(request)
    viewer = Viewer.of(row, addr, account, profile, notice, csrf, verified_uscc(db, account))
    request.state.viewer = viewer
    return viewer


def _anonymous_csrf(request: Request) -> str:
    """The CSRF token of a visitor without a session: the cookie's, or a new one set now."""
    token = request.cookies.get(CSRF_COOKIE, "")
    if len(token) == CSRF_TOKEN_LENGTH and token.replace("-", "").replace("_", "").isalnum():
        return token
    token = secrets.token_urlsafe(32)
    set_cookie(request, CSRF_COOKIE, token)
    return token


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


async def verify_csrf(
    request: Request,
    db: Annotated[Session, SESSION],
    settings: Annotated[Settings, Depends(get_settings)],
) -> None:
    """Every state-changing request must carry this session's CSRF token (form field or header)."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get(CSRF_HEADER)
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = str((await request.form()).get(CSRF_FIELD) or "")
    viewer = get_viewer(request, db, settings)
    if not sent or not secrets.compare_digest(sent, viewer.csrf_token):
        record(
            db,
            viewer.actor,
            "csrf.refused",
            "route",
            f"{request.method} {request.url.path}",
            result="refused",
        )
        db.commit()  # the refusal is audited even though the request fails
        raise HTTPException(403, "表单已失效或来源不明，请刷新页面后重试")


class LoginRequiredError(Exception):
    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


class RedirectRequiredError(Exception):
    def __init__(self, location: str) -> None:
        self.location = location


# While a password must be changed or a second factor set up, only these needs are served.
FORCED_FLOW_ALLOWED = frozenset({("account", "self"), ("site", "read"), ("login", "use")})


class Requirement:
    """What a route needs: one (object, action) pair of the policy file."""

    def __init__(self, obj: str, act: str) -> None:
        self.obj, self.act = obj, act

    def __repr__(self) -> str:
        return f"requires({self.obj!r}, {self.act!r})"

    def __call__(self, request: Request, viewer: ViewerDep, db: SessionDep) -> Viewer:
        # A page anonymous visitors may not see is private: never kept by a cache.
        request.state.private = not allows(ANONYMOUS, self.obj, self.act)
        if viewer.account is not None and (self.obj, self.act) not in FORCED_FLOW_ALLOWED:
            if viewer.must_change_password:
                raise RedirectRequiredError("/account/password")
            if viewer.must_enrol_second_factor:
                raise RedirectRequiredError("/account/totp")
        if viewer.may(self.obj, self.act):
            return viewer
        record(
            db,
            viewer.actor,
            "access.denied",
            "route",
            f"{request.method} {request.url.path}",
            after={"needs": f"{self.obj}:{self.act}"},
            result="refused",
        )
        db.commit()  # the denial is audited even though the request fails
        if viewer.account is None:
            raise LoginRequiredError(request.url.path)
        raise HTTPException(403, f"您的角色（{viewer.role_label}）无权访问此功能")


class OpenAccess:
    """What a route needs when anyone may call it without a session (health checks, API docs)."""

    def __repr__(self) -> str:
        return "open_access()"

    def __call__(self) -> None:
        return None


def open_access() -> Any:
    return Depends(OpenAccess())


def requires(obj: str, act: str) -> Any:
    """``Depends`` on a requirement; use as a parameter default or in ``dependencies=[...]``."""
    return Depends(Requirement(obj, act))


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything else (another site, a scheme) becomes '/'."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ch in target for ch in "\r\n") or target.startswith("/\t"):
        return "/"
    return target
