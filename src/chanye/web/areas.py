"""The area contract: what one part of the web app is, declared once (see docs/areas.md).

An area is a router with a prefix and tags (and optionally a JSON router under ``/api/...``), the
permission its entry page needs (an (object, action) pair of ``chanye/web/access/policy.csv``),
its navigation entry and the docs page that documents its routes. The app includes the areas it
is given (``chanye.web.app.AREAS``) and nothing else; the navigation bar, the docs test and the
access matrix read the same list.

Why prefixes: a route of one area can never shadow another's, so the order the areas are listed
in does not matter. The only area without a prefix is a site area whose routes are fixed words at
the root (``/``, ``/login``, ``/docs``): ``check_areas`` refuses a root route with a path
parameter, a prefix inside another area's prefix, or one path claimed by two areas.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute

from chanye.web.access import allows

if TYPE_CHECKING:
    from starlette.requests import Request

    from chanye.web.workbench import Card


@dataclass(frozen=True)
class Permission:
    """An (object, action) pair of the casbin policy file."""

    obj: str
    act: str

    def __str__(self) -> str:
        return f"{self.obj}:{self.act}"

    def granted_to(self, role: str) -> bool:
        return allows(role, self.obj, self.act)


@dataclass(frozen=True)
class NavEntry:
    """How an area appears in the navigation bar (and, for an area not built yet, its page)."""

    label: str
    summary: str = ""
    path: str = ""  # the area's prefix unless given
    coming: tuple[str, ...] = ()  # what an area not built yet will offer


@dataclass(frozen=True)
class Area:
    """One area of the web app. ``permission`` is what its entry page (the navigation entry's
    path, else the prefix) needs: the navigation shows the entry to exactly the roles the policy
    file grants it, and a test checks that the entry route declares the same need."""

    key: str
    router: APIRouter
    permission: Permission | None  # None: open to anyone, without a session (health, API docs)
    docs: str  # the page under docs/ that documents every route of the area
    nav: NavEntry | None = None
    api: APIRouter | None = None  # its JSON routes, prefix under /api/
    cards: tuple[Card, ...] = ()  # its cards on the workbenches (chanye.web.workbench)

    @property
    def prefix(self) -> str:
        return self.router.prefix

    @property
    def entry(self) -> str:
        return (self.nav.path if self.nav and self.nav.path else self.prefix) or "/"

    @property
    def routers(self) -> tuple[APIRouter, ...]:
        return (self.router,) if self.api is None else (self.router, self.api)

    def routes(self) -> list[APIRoute]:
        return [r for router in self.routers for r in router.routes if isinstance(r, APIRoute)]

    def open_to(self, role: str) -> bool:
        return self.permission is None or self.permission.granted_to(role)


class AreaContractError(ValueError):
    """Areas whose routes could shadow one another, or an area that breaks its contract."""


def check_areas(areas: Sequence[Area]) -> None:
    """Refuse areas whose routes could shadow one another (then their order would matter)."""
    prefixes: dict[str, str] = {}
    paths: dict[tuple[str, str], str] = {}
    for area in areas:
        if not area.router.tags:
            raise AreaContractError(f"{area.key}: its router has no tags")
        if area.api is not None and not area.api.prefix.startswith("/api/"):
            raise AreaContractError(f"{area.key}: its JSON router's prefix is not under /api/")
        for router in area.routers:
            _claim_prefix(prefixes, router.prefix, area.key)
        for route in area.routes():
            if not area.prefix and "{" in route.path:
                raise AreaContractError(f"{area.key}: root route {route.path} has a parameter")
            for method in route.methods or ():
                owner = paths.setdefault((method, route.path), area.key)
                if owner != area.key:
                    raise AreaContractError(f"{area.key}: {method} {route.path} is {owner}'s")


def _claim_prefix(prefixes: dict[str, str], prefix: str, key: str) -> None:
    """A prefix is one area's, and no area's prefix lies inside another's (``/a`` and ``/a/b``):
    a parameter route of the outer one could otherwise catch the inner one's paths."""
    if not prefix:
        return
    for other, owner in prefixes.items():
        if other == prefix or other.startswith(prefix + "/") or prefix.startswith(other + "/"):
            raise AreaContractError(f"{key}: prefix {prefix} overlaps {owner}'s {other}")
    prefixes[prefix] = key


def include_areas(app: FastAPI, areas: Sequence[Area]) -> None:
    check_areas(areas)
    app.state.areas = tuple(areas)
    for area in areas:
        for router in area.routers:
            app.include_router(router)


def navigation_for(areas: Iterable[Area], role: str) -> list[Area]:
    """The areas in the navigation bar of a viewer of ``role``: only those they may open, asked
    of the same policy the routes ask."""
    return [area for area in areas if area.nav is not None and area.open_to(role)]


def navigation(request: Request) -> list[Area]:
    """The navigation of this request's viewer (templates call it)."""
    viewer = getattr(request.state, "viewer", None)
    role = viewer.role if viewer is not None else "public"
    return navigation_for(getattr(request.app.state, "areas", ()), role)
