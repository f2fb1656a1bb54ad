"""Workbench cards (工作台): what each role acts on first, one small contract per card.

A card names the roles it is for, a template under ``templates/workbench/`` and a loader that
reads its data through domain functions (never SQL here), within the viewer's row-level scope
(``viewer.scope``, ``chanye.registry.scope``). An area carries its cards (``Area.cards``); the
workbench shows every card of every area that is for the viewer's role, by rank, then in the
order of the areas. See docs/workbench.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from fastapi import Request
from sqlalchemy.orm import Session

from chanye.policy import desk, workflow
from chanye.portal import binding, membership, trainings
from chanye.portal.accounts import assigned_industries, display_names
from chanye.registry import history
from chanye.registry.changes import STATUS_LABELS as CHANGE_STATUS_LABELS
from chanye.registry.context import RegistryContext
from chanye.system.model import STAGE_LABELS, IndustrialSystem

if TYPE_CHECKING:
    from chanye.web.auth import Viewer

ENTERPRISES = frozenset({"enterprise", "member"})
ACCOUNTS = frozenset({"individual", "enterprise", "member"})
RECENT = 5


@dataclass(frozen=True)
class CardInput:
    """What a card's loader may read: the request (for app state), its session, the viewer and
    the industrial system in force."""

    request: Request
    db: Session
    viewer: Viewer
    system: IndustrialSystem


@dataclass(frozen=True)
class Card:
    key: str
    title: str
    roles: frozenset[str]
    template: str  # under templates/workbench/
    load: Callable[[CardInput], dict[str, Any]]
    more: tuple[str, str] | None = None  # (label, path) of the page where the work is done
    rank: int = 50  # lower comes first on a workbench; the same rank keeps the areas' order


class CarriesCards(Protocol):
    """What the workbench asks of an area (``chanye.web.areas.Area``): the cards it carries."""

    @property
    def cards(self) -> tuple[Card, ...]: ...


@dataclass(frozen=True)
class ShownCard:
    card: Card
    data: dict[str, Any]


def cards_for(areas: Iterable[CarriesCards], role: str) -> list[Card]:
    """The cards of ``role``'s workbench, by rank, then in the order of the areas."""
    cards = [card for area in areas for card in area.cards if role in card.roles]
    return sorted(cards, key=lambda card: card.rank)


def shown(cards: Sequence[Card], given: CardInput) -> list[ShownCard]:
    return [ShownCard(card, card.load(given)) for card in cards]


# --- registry -----------------------------------------------------------------------------------


def _changes(given: CardInput) -> dict[str, Any]:
    changes = history.recent_changes(given.db, RECENT)
    return {
        "changes": changes,
        "kinds": history.KIND_LABELS,
        "statuses": CHANGE_STATUS_LABELS,
        "names": display_names(given.db, [c.actor for c in changes]),
    }


def _my_industries(given: CardInput) -> dict[str, Any]:
    """A chain leader's industries with their enterprise counts and revenue, over their scope."""
    scope = given.viewer.scope
    settings = given.request.app.state.settings
    context = RegistryContext.from_settings(settings, given.db)
    with given.request.app.state.registry_readers.reader(context) as reader:
        stats = reader.stats(scope)
    rows = []
    for industry_id in scope.industries:
        industry = given.system.industry(industry_id)
        if industry is not None:
            count = stats["by_industry"].get(industry_id, 0)
            revenue = stats["industry_revenue"].get(industry_id, 0.0)
            rows.append({"industry": industry, "enterprises": count, "revenue": revenue})
    return {"rows": rows, "total": stats["total"]}


REGISTRY_CARDS = (
    Card(
        "registry-changes",
        "企业库最近的变更与导入",
        frozenset({"analyst", "admin"}),
        "changes.html",
        _changes,
        more=("导入与变更记录", "/registry/imports"),
    ),
    Card(
        "my-industries",
        "我负责的产业",
        frozenset({"chain_leader"}),
        "industries.html",
        _my_industries,
        more=("企业检索", "/registry"),
    ),
)


# --- the industrial system: chains ----------------------------------------------------------------


def _chains(given: CardInput) -> dict[str, Any]:
    """The chains of the industries assigned to this person (every cluster's when none is)."""
    account = given.viewer.account
    assigned = assigned_industries(account) if account is not None else ()
    found = [given.system.industry(i) for i in assigned]
    industries = [ind for ind in found if ind is not None] or list(given.system.clusters)
    rows = []
    for industry in industries:
        stages = {
            stage: [lk.name for lk in industry.links if lk.stage == stage] for stage in STAGE_LABELS
        }
        rows.append({"industry": industry, "stages": {s: n for s, n in stages.items() if n}})
    return {"rows": rows, "assigned": bool(assigned), "stage_labels": STAGE_LABELS}


CHAIN_CARDS = (
    Card(
        "industry-chains",
        "我负责产业的产业链",
        frozenset({"investment"}),
        "chains.html",
        _chains,
        more=("产业链总览", "/chains"),
    ),
)


# --- policies -----------------------------------------------------------------------------------


def _desk(given: CardInput) -> dict[str, Any]:
    return {"desk": desk.desk(given.db, RECENT)}


def _my_pushes(given: CardInput) -> dict[str, Any]:
    """An enterprise's pushes, undecided first; nothing until its binding is verified (the scope
    names its own record only then)."""
    uscc = given.viewer.scope.uscc
    if uscc is None:
        return {"bound": False, "pushes": []}
    pushes = workflow.pushes_for(given.db, uscc)
    pushes.sort(key=lambda pair: pair[0].status != workflow.PUSHED)
    return {"bound": True, "pushes": pushes[:RECENT], "labels": workflow.PUSH_LABELS}


DESK_CARDS = (
    Card(
        "policy-desk",
        "政策待办",
        frozenset({"policy_office", "admin"}),
        "desk.html",
        _desk,
        more=("政策管理", "/policies/manage"),
    ),
)
PUSH_CARDS = (
    Card(
        "my-pushes",
        "本企业的政策推送",
        ENTERPRISES,
        "pushes.html",
        _my_pushes,
        more=("全部推送", "/my/policies"),
        rank=10,  # a benefit waiting for the enterprise's decision comes first
    ),
)


# --- the portal: membership, binding, reviews, trainings -------------------------------------------


def _my_membership(given: CardInput) -> dict[str, Any]:
    account = given.viewer.require_account()
    own = binding.binding_of(given.db, account)
    return {
        "member": given.viewer.role == "member",
        "application": membership.latest_application(given.db, account.id),
        "statuses": membership.STATUS_LABELS,
        "binding": own,
        "binding_labels": binding.STATE_LABELS,
    }


def _reviews(given: CardInput) -> dict[str, Any]:
    applications = membership.status_counts(given.db)
    bindings = binding.state_counts(given.db)
    return {
        "applications": applications.get("submitted", 0) + applications.get("under_review", 0),
        "bindings": bindings.get(binding.PENDING, 0),
    }


def _my_trainings(given: CardInput) -> dict[str, Any]:
    account = given.viewer.require_account()
    mine = trainings.signups_of(given.db, account.id)
    taken = {training.id for training, _ in mine}
    others = [t for t in trainings.upcoming(given.db, limit=RECENT) if t.id not in taken]
    return {"mine": mine, "others": others[:3]}


MEMBERSHIP_CARDS = (
    Card(
        "my-membership",
        "入会与企业绑定",
        ENTERPRISES,
        "membership.html",
        _my_membership,
        more=("会员", "/members"),
    ),
    Card(
        "reviews",
        "待审核",
        frozenset({"analyst", "admin"}),
        "reviews.html",
        _reviews,
    ),
)
TRAINING_CARDS = (
    Card(
        "my-trainings",
        "我的培训",
        ACCOUNTS,
        "trainings.html",
        _my_trainings,
        more=("全部培训", "/trainings"),
    ),
)
