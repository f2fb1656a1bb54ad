"""Which industrial system is in force: the newest version loaded into the operational database."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from chanye.store.audit import Actor, record
from chanye.store.models import SystemVersion
from chanye.system.loader import load_default_system, parse_system
from chanye.system.model import IndustrialSystem


@dataclass(frozen=True)
class LoadResult:
    version_id: int
    system: IndustrialSystem
    changed: bool


def load_into_database(session: Session, text: str, source_name: str, actor: Actor) -> LoadResult:
    """Check a system file and make it the system in force; loading the same text twice is a no-op.

    Raises ``SystemFileError`` (nothing written) when the file is not valid.
    """
    system = parse_system(text, source_name)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    current = _newest(session)
    if current is not None and current.sha256 == digest:
        return LoadResult(current.id, system, changed=False)
    version = SystemVersion(
        system_id=system.system.id,
        name=system.system.name,
        source_name=source_name,
        sha256=digest,
        content=text,
        loaded_by=actor.name,
    )
    session.add(version)
    session.flush()
    record(
        session,
        actor,
        "system.load",
        "system_version",
        str(version.id),
        before={"version": current.id, "sha256": current.sha256} if current else None,
        after={"version": version.id, "sha256": digest, "system_id": system.system.id},
    )
    return LoadResult(version.id, system, changed=True)


def _newest(session: Session) -> SystemVersion | None:
    return session.scalar(select(SystemVersion).order_by(SystemVersion.id.desc()).limit(1))


# Parsed systems by version id: a version's text never changes, so each process parses it once
# (~10 ms) and pages only ask the database which version is the newest.
_PARSED_BY_VERSION: dict[tuple[str, int], IndustrialSystem] = {}
_PARSED_CACHE_SIZE = 8
# Databases (by URL) known to have the versions table: the check is made once per process.
_MIGRATED: set[str] = set()


def system_in_force(session: Session) -> IndustrialSystem:
    """The newest loaded system; the packaged default when none was loaded or the DB is new.

    Everything runs on the session's own connection: a request never needs a second one."""
    database = session.get_bind().engine.url.render_as_string(hide_password=False)
    if database not in _MIGRATED:
        if not inspect(session.connection()).has_table(SystemVersion.__tablename__):
            return load_default_system()
        _MIGRATED.add(database)
    newest = session.scalar(select(func.max(SystemVersion.id)))
    if newest is None:
        return load_default_system()
    cached = _PARSED_BY_VERSION.get((database, newest))
    if cached is None:
        version = session.get_one(SystemVersion, newest)
        cached = parse_system(version.content, version.source_name)
        if len(_PARSED_BY_VERSION) >= _PARSED_CACHE_SIZE:
            _PARSED_BY_VERSION.clear()
        _PARSED_BY_VERSION[(database, newest)] = cached
    return cached
