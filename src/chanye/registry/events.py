"""Registry changes as events: every change of the registry publishes one ``RegistryChanged``.

A change of the registry (an import, an undo or a redo, a re-classification, an analyst's
override) is made inside ``registry_change``: the change commits, the writer lock is released,
and then the event is published to every subscriber of that registry, in the order they
subscribed, in the same thread. Policy re-matching subscribes in the composition root
(``chanye.root``); monitoring and chain numbers will subscribe the same way. The contract is
written in docs/events.md.

The publish/subscribe is a few typed lines rather than a signal library: subscribers take the
event type itself (a library such as blinker sends untyped keyword arguments), and subscribing
the same function twice is a no-op, so building the root again never doubles a re-match, and
subscriptions are per registry, so the tests' many registries in one process stay apart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Generic, TypeVar

from chanye.registry.storage import RegistryPaths
from chanye.store.audit import Actor

log = logging.getLogger(__name__)

Key = TypeVar("Key", bound=Hashable)
Event = TypeVar("Event")


class Topic(Generic[Key, Event]):
    """Subscribers of one event type, per key (for registry changes: which registry changed).

    Subscribing the same function for the same key twice is a no-op. A subscriber that raises
    does not keep the event from the others: all are called, then the first failure is raised to
    whoever made the change (the change itself stays committed).
    """

    def __init__(self) -> None:
        self._subscribers: dict[Key, list[Callable[[Event], None]]] = {}

    def subscribe(self, key: Key, subscriber: Callable[[Event], None]) -> None:
        subscribers = self._subscribers.setdefault(key, [])
        if subscriber not in subscribers:
            subscribers.append(subscriber)

    def unsubscribe(self, key: Key, subscriber: Callable[[Event], None]) -> None:
        subscribers = self._subscribers.get(key, [])
        if subscriber in subscribers:
            subscribers.remove(subscriber)

    def publish(self, key: Key, event: Event) -> None:
        failures: list[Exception] = []
        for subscriber in list(self._subscribers.get(key, [])):
            try:
                subscriber(event)
            except Exception as exc:  # the others still hear of the change
                log.exception("subscriber %r failed on %r", subscriber, event)
                failures.append(exc)
        if failures:
            raise failures[0]


@dataclass(frozen=True)
class RegistryKey:
    """Which registry: its operational database and its files. A process normally serves one;
    the tests run many side by side, and a registry no root was started for has no subscribers."""

    database_url: str
    root: str

    @classmethod
    def of(cls, database_url: str, paths: RegistryPaths) -> RegistryKey:
        return cls(database_url, str(paths.root.resolve()))


class ChangeKind(StrEnum):
    """What kind of change it was (the values are those of ``registry_changes.kind``)."""

    IMPORT = "import"
    ROLLBACK = "rollback"
    REDO = "redo"  # the undo of an undo
    RECLASSIFY = "classify"
    OVERRIDE = "override"  # an analyst placed an enterprise by hand, or removed that placement


@dataclass(frozen=True)
class RegistryChanged:
    """The registry in force changed, and the change is committed.

    ``change_id`` names the record of the change: the ``registry_changes`` row for an import, an
    undo, a redo or a re-classification; the audit log entry for an override (overrides are not
    snapshots, so they have no row there). The database and the registry's files say where it
    happened: a subscriber reads the registry now in force there.
    """

    change_id: int
    kind: ChangeKind
    actor: Actor
    database_url: str = field(compare=False, repr=False)
    paths: RegistryPaths = field(compare=False, repr=False)


registry_changed: Topic[RegistryKey, RegistryChanged] = Topic()


@dataclass
class ChangeInProgress:
    """Filled in by the code making a change: ``took_effect`` once the change has committed."""

    took: tuple[int, ChangeKind] | None = None

    def took_effect(self, change_id: int, kind: ChangeKind) -> None:
        self.took = (change_id, kind)


@contextmanager
def registry_change(
    database_url: str, paths: RegistryPaths, actor: Actor
) -> Iterator[ChangeInProgress]:
    """The one way a change of the registry is made. The body makes and commits the change and
    calls ``took_effect``; when the body is done (its locks released), ``RegistryChanged`` is
    published. A body that raises, or that changed nothing (a refused or failed import, an
    import whose rows were all unchanged), publishes nothing."""
    change = ChangeInProgress()
    yield change
    if change.took is not None:
        change_id, kind = change.took
        event = RegistryChanged(change_id, kind, actor, database_url, paths)
        registry_changed.publish(RegistryKey.of(database_url, paths), event)
