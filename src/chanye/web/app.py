"""The web app factory: wiring only. The areas of the app are listed once, in ``AREAS``: each is
declared beside its router in ``chanye.web.routes`` (the contract: ``chanye.web.areas``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from chanye.config import Settings
from chanye.root import start
from chanye.web.admission import AdmissionMiddleware
from chanye.web.areas import Area, include_areas
from chanye.web.auth import CookieMiddleware, verify_csrf
from chanye.web.errors import register_error_pages
from chanye.web.limits import FORM_LIMIT, BodyLimitMiddleware
from chanye.web.paths import STATIC_DIR
from chanye.web.registry_state import ImportJobs, ReaderCache
from chanye.web.routes import (
    account,
    admin,
    applications,
    areas,
    bindings,
    docs,
    health,
    home,
    members,
    news,
    policies,
    registry,
    system,
    trainings,
    workbench,
)
from chanye.web.security import SecurityHeadersMiddleware
from chanye.web.upload_gate import UploadGateMiddleware

# Every area of the app, in the order of the navigation bar (the order decides nothing else).
AREAS: tuple[Area, ...] = (
    workbench.AREA,
    system.AREA,
    registry.AREA,
    policies.AREA,
    system.CHAINS,
    areas.PROJECTS,
    members.AREA,
    trainings.AREA,
    news.AREA,
    home.AREA,
    account.AREA,
    system.INDUSTRIES,
    policies.MINE,
    applications.OWN,
    applications.STAFF,
    bindings.OWN,
    bindings.AREA,
    admin.AREA,
    health.AREA,
    docs.AREA,
)


def create_app(settings: Settings | None = None, areas: Sequence[Area] = AREAS) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="chanye 产业 API",
        description="城市现代化产业体系数据平台 — Guangzhou 12218 by default.",
        version="0.1.0",
        docs_url=None,  # served by routes.docs with local assets and no inline script
        redoc_url=None,
        openapi_url=None,  # served by routes.docs, declared open like every other route
        dependencies=[Depends(verify_csrf)],
    )
    app.state.settings = settings
    app.state.root = start(settings, migrate=False)
    app.state.registry_readers = ReaderCache()
    if settings.warm_up:
        app.state.registry_readers.warm_up(settings)
    app.state.import_jobs = ImportJobs()
    if settings.testing_expose_captcha:
        app.include_router(account.testing_router())
    app.add_middleware(UploadGateMiddleware)
    app.add_middleware(CookieMiddleware)
    # Inside the security headers (a 503 carries them too), outside everything that reads the DB.
    app.add_middleware(
        AdmissionMiddleware,
        limit=settings.db_pool_size + settings.db_max_overflow,
        wait_seconds=settings.db_pool_timeout_seconds,
    )
    app.add_middleware(BodyLimitMiddleware, limit_for=_body_limit(settings))
    app.add_middleware(SecurityHeadersMiddleware)  # outermost: even a 413 carries the headers
    register_error_pages(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    include_areas(app, areas)
    return app


def _body_limit(settings: Settings) -> Callable[[str], int]:
    uploads = {
        "/registry/imports": settings.max_upload_mb << 20,
        # Membership: a few documents of up to max_document_mb each, plus the form.
        "/members/apply": (settings.max_document_mb << 20) * 6 + FORM_LIMIT,
        # Binding: the licence and the authorisation letter.
        "/account/binding/documents": (settings.max_document_mb << 20) * 2 + FORM_LIMIT,
    }
    # 快申: the attachments a policy names (a few), at most max_document_mb each.
    attachments = (settings.max_document_mb << 20) * 6 + FORM_LIMIT

    def limit_for(path: str) -> int:
        if path.startswith("/my/applications/"):
            return attachments
        return uploads.get(path.rstrip("/"), FORM_LIMIT)

    return limit_for
