"""An analyst's placement of an enterprise, which replaces the automatic one.

Overrides live in the operational database (audited) and are applied on top of every snapshot,
so they survive re-import and re-classification until removed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from chanye.registry.changes import ChangeRefusedError
from chanye.registry.events import ChangeKind, registry_change
from chanye.registry.storage import RegistryPaths
from chanye.store.audit import Actor, record
from chanye.store.database import session_scope
from chanye.store.models import ClassificationOverride, utcnow
from chanye.system.model import IndustrialSystem


def _as_dict(override: ClassificationOverride | None) -> dict[str, object] | None:
    if override is None:
        return None
    return {
        "industries": json.loads(override.industries),
        "chain_links": json.loads(override.chain_links),
        "reason": override.reason,
    }


def check_placement(
    system: IndustrialSystem, industries: Sequence[str], chain_links: Sequence[str]
) -> None:
    known = {ind.id: {link.id for link in ind.links} for _, ind in system.industries()}
    unknown = [i for i in industries if i not in known]
    if unknown:
        raise ChangeRefusedError(
            f"未知的产业：{'、'.join(unknown)}", f"unknown industries: {', '.join(unknown)}"
        )
    allowed = set().union(*(known[i] for i in industries)) if industries else set()
    stray = [link for link in chain_links if link not in allowed]
    if stray:
        raise ChangeRefusedError(
            f"产业链环节不属于所选产业：{'、'.join(stray)}",
            f"chain links not in the chosen industries: {', '.join(stray)}",
        )


def set_override(
    database_url: str,
    paths: RegistryPaths,
    system: IndustrialSystem,
    uscc: str,
    industries: Sequence[str],
    chain_links: Sequence[str],
    reason: str,
    actor: Actor,
) -> None:
    """Place ``uscc`` by hand (an override of kind ``override``, published once committed)."""
    if not reason.strip():
        raise ChangeRefusedError("请填写调整理由", "a reason is required")
    check_placement(system, industries, chain_links)
    with registry_change(database_url, paths, actor) as change:
        with session_scope(database_url) as session:
            override = session.get(ClassificationOverride, uscc)
            before = _as_dict(override)
            if override is None:
                override = ClassificationOverride(uscc=uscc)
                session.add(override)
            override.industries = json.dumps(list(industries), ensure_ascii=False)
            override.chain_links = json.dumps(list(chain_links), ensure_ascii=False)
            override.reason, override.actor, override.at = reason.strip(), actor.name, utcnow()
            session.flush()
            entry = record(
                session,
                actor,
                "registry.override",
                "enterprise",
                uscc,
                before=before,
                after=_as_dict(override),
            )
            entry_id = entry.id
        change.took_effect(entry_id, ChangeKind.OVERRIDE)


def clear_override(database_url: str, paths: RegistryPaths, uscc: str, actor: Actor) -> bool:
    """Remove the placement by hand of ``uscc``; False if there was none (nothing published)."""
    with registry_change(database_url, paths, actor) as change:
        with session_scope(database_url) as session:
            override = session.get(ClassificationOverride, uscc)
            if override is None:
                return False
            before = _as_dict(override)
            session.delete(override)
            entry = record(
                session, actor, "registry.override.clear", "enterprise", uscc, before=before
            )
            entry_id = entry.id
        change.took_effect(entry_id, ChangeKind.OVERRIDE)
    return True
