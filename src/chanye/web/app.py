"""The web app factory: wiring only; each area is a router in ``chanye.web.routes``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from chanye.config import Settings
from chanye.web.errors import register_error_pages
from chanye.web.paths import STATIC_DIR
from chanye.web.registry_state import ImportJobs, ReaderCache
from chanye.web.routes import areas, docs, health, registry, system
from chanye.web.security import SecurityHeadersMiddleware


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="chanye 产业 API",
        description="城市现代化产业体系数据平台 — Guangzhou 12218 by default.",
        version="0.1.0",
        docs_url=None,  # served by routes.docs with local assets and no inline script
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.registry_readers = ReaderCache()
    if settings.warm_up:
        app.state.registry_readers.warm_up(settings)
    app.state.import_jobs = ImportJobs()
    app.add_middleware(SecurityHeadersMiddleware)
    register_error_pages(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (system, registry, areas, health, docs):
        app.include_router(module.router)
    return app
