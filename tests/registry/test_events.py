"""Every change of the registry publishes one ``RegistryChanged``, once it is committed."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import tomli_w

from chanye.registry.changes import reclassify, rollback
from chanye.registry.context import RegistryContext
from chanye.registry.events import ChangeKind, RegistryChanged, RegistryKey, registry_changed
from chanye.registry.importer import import_file
from chanye.registry.overrides import clear_override, set_override
from chanye.registry.storage import RegistryPaths, writer_lock
from chanye.store.audit import Actor
from chanye.store.database import session_scope
from chanye.store.models import AuditEntry, ClassificationOverride, RegistryChange
from chanye.system.loader import default_system_text, parse_system
from chanye.system.model import IndustrialSystem
from tests.registry.conftest import ANALYST
from tests.registry.factory import row, uscc, write_csv

OTHER = Actor(name="analyst-2", role="analyst", client_addr="10.0.0.2")


@dataclass
class Heard:
    """A subscriber that notes each event and what was committed when it heard it."""

    events: list[RegistryChanged] = field(default_factory=list)
    committed: list[str] = field(default_factory=list)

    def __call__(self, event: RegistryChanged) -> None:
        self.events.append(event)
        with writer_lock(event.paths):  # free again: the change's lock is released first
            pass
        with session_scope(event.database_url) as session:  # a session of its own
            if event.kind is ChangeKind.OVERRIDE:
                entry = session.get(AuditEntry, event.change_id)
                self.committed.append(entry.action if entry else "missing")
            else:
                change = session.get(RegistryChange, event.change_id)
                self.committed.append(change.status if change else "missing")

    @property
    def kinds(self) -> list[tuple[ChangeKind, str]]:
        return [(e.kind, e.actor.name) for e in self.events]


@pytest.fixture
def heard(context: RegistryContext) -> Iterator[Heard]:
    subscriber = Heard()
    key = RegistryKey.of(context.database_url, context.paths)
    registry_changed.subscribe(key, subscriber)
    registry_changed.subscribe(key, subscriber)  # twice: still called once per change
    yield subscriber
    registry_changed.unsubscribe(key, subscriber)


def _import(context: RegistryContext, path: Path, actor: Actor = ANALYST, **options: bool) -> int:
    result = import_file(
        context.database_url, context.paths, context.system, path, actor, **options
    )
    return result.exit_code


def test_each_kind_of_change_is_heard_once_after_it_committed(
    context: RegistryContext, heard: Heard, tmp_path: Path
) -> None:
    assert _import(context, write_csv(tmp_path / "a.csv", [row(1), row(5)])) == 0
    assert heard.kinds == [(ChangeKind.IMPORT, ANALYST.name)]
    assert heard.events[0].change_id == 1 and heard.committed == ["done"]

    set_override(*_where(context), uscc(5), ["fashion-consumer"], [], "门店", OTHER)
    assert heard.kinds[-1] == (ChangeKind.OVERRIDE, OTHER.name)
    assert heard.events[-1].actor == OTHER and heard.committed[-1] == "registry.override"
    assert clear_override(context.database_url, context.paths, uscc(5), OTHER)
    assert heard.committed[-1] == "registry.override.clear"
    with session_scope(context.database_url) as session:
        assert session.get(ClassificationOverride, uscc(5)) is None

    raw = tomllib.loads(default_system_text())
    fashion = next(c for c in raw["clusters"] if c["id"] == "fashion-consumer")
    fashion["keywords"] = [*fashion.get("keywords", []), "动力电池"]
    edited = parse_system(tomli_w.dumps(raw), "edited.toml")
    classified = reclassify(context.database_url, context.paths, edited, ANALYST)
    assert classified.changed >= 1
    assert heard.events[-1].kind is ChangeKind.RECLASSIFY
    assert heard.events[-1].change_id == classified.change_id

    undone = rollback(context.database_url, context.paths, classified.change_id, OTHER)
    assert heard.events[-1].kind is ChangeKind.ROLLBACK
    assert heard.events[-1].change_id == undone.change_id
    rollback(context.database_url, context.paths, undone.change_id, ANALYST)
    assert heard.kinds[-1] == (ChangeKind.REDO, ANALYST.name)

    assert len(heard.events) == 6  # one per change, though subscribed twice
    assert heard.committed[:1] + heard.committed[3:] == ["done", "done", "done", "done"]


def test_a_change_that_did_not_happen_publishes_nothing(
    context: RegistryContext, heard: Heard, tmp_path: Path
) -> None:
    bad = write_csv(tmp_path / "bad.csv", [row(1), row(2, **{"营业收入（万元）": "很多"})])
    assert _import(context, bad, strict=True) == 3  # refused whole
    unreadable = tmp_path / "x.csv"
    unreadable.write_bytes(b"\x00\x01 not a table")
    assert _import(context, unreadable) == 2
    assert heard.events == []
    assert not clear_override(context.database_url, context.paths, uscc(1), ANALYST)
    assert heard.events == []

    good = write_csv(tmp_path / "good.csv", [row(1)])
    assert _import(context, good) == 0 and len(heard.events) == 1
    assert _import(context, good) == 0  # the same rows again: nothing changed
    assert len(heard.events) == 1
    with session_scope(context.database_url) as session:
        statuses = [c.status for c in session.query(RegistryChange).order_by(RegistryChange.id)]
    assert statuses == ["failed", "failed", "done", "done"]


def test_a_failing_subscriber_leaves_the_change_committed_and_the_others_called(
    context: RegistryContext, heard: Heard, tmp_path: Path
) -> None:
    def broken(event: RegistryChanged) -> None:
        raise RuntimeError("monitoring is down")

    key = RegistryKey.of(context.database_url, context.paths)
    registry_changed.subscribe(key, broken)
    try:
        with pytest.raises(RuntimeError, match="monitoring is down"):
            _import(context, write_csv(tmp_path / "a.csv", [row(1)]))
    finally:
        registry_changed.unsubscribe(key, broken)
    assert heard.committed == ["done"]  # the one before the broken one heard it
    assert context.state()[0] is not None  # the import took effect


def test_another_registry_hears_nothing(
    context: RegistryContext, heard: Heard, tmp_path: Path
) -> None:
    elsewhere = RegistryContext(
        context.database_url, RegistryPaths.under(tmp_path / "other"), context.system
    )
    assert _import(elsewhere, write_csv(tmp_path / "a.csv", [row(1)])) == 0
    assert heard.events == []


def _where(context: RegistryContext) -> tuple[str, RegistryPaths, IndustrialSystem]:
    return context.database_url, context.paths, context.system
