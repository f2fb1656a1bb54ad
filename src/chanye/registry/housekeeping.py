"""Files the registry no longer needs: what killed imports left behind, and old uploads.

A killed import leaves its scratch directory (``registry/tmp/import-*``) and the snapshot it was
writing (``snapshots/*.tmp``); a file uploaded through the web page stays in
``uploads/registry/`` with its error report. Only the holder of the writer lock writes scratch,
so scratch is cleaned under it: at the start of every change, and when the app or a registry
command starts (skipped when another process holds the lock: it will clean at its next change).
Uploads are kept for the retention period, then deleted with their reports.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path

from chanye.registry.storage import RegistryBusyError, RegistryPaths, writer_lock

REFUSED = ("unreadable", "strict_rejected")


STALE_PARTIAL_SECONDS = 3600  # a column file half-written this long ago was abandoned


def clean_scratch(paths: RegistryPaths, now: float | None = None) -> list[Path]:
    """Remove what killed changes left; the caller holds the writer lock. Returns what went.

    Also the column files a killed reader left half-written (a reader brings back an undone
    snapshot's file without the lock, so only old ones go) and the search columns earlier
    versions kept in ``registry/columns/`` (the snapshot's own Arrow file replaced them)."""
    cutoff = (now or time.time()) - STALE_PARTIAL_SECONDS
    partial = [p for p in paths.snapshots.glob("*/.*.tmp") if _older_than(p, cutoff)]
    earlier = [paths.root / "columns"] if (paths.root / "columns").exists() else []
    leftovers = [
        *paths.scratch.glob("import-*"),
        *paths.snapshots.glob("*.tmp"),
        *partial,
        *earlier,
    ]
    for leftover in leftovers:
        _remove(leftover)
    return leftovers


def remove_old_uploads(uploads: Path, retention_days: int, now: float | None = None) -> list[Path]:
    """Delete upload folders older than the retention period (0: keep none once imported)."""
    if not uploads.is_dir():
        return []
    cutoff = (now or time.time()) - dt.timedelta(days=retention_days).total_seconds()
    old = [folder for folder in uploads.iterdir() if folder.stat().st_mtime < cutoff]
    for folder in old:
        _remove(folder)
    return old


def tidy(paths: RegistryPaths, uploads: Path | None, retention_days: int) -> None:
    """Scratch of killed changes and expired uploads, unless a change is running right now."""
    try:
        with writer_lock(paths):
            clean_scratch(paths)
            if uploads is not None:
                remove_old_uploads(uploads, retention_days)
    except RegistryBusyError:
        return


def discard_refused_upload(path: Path, status: str | None) -> None:
    """A file refused whole is not kept: it imported nothing. Its error report (a strict import
    refused for bad rows) stays, for the clerk to correct the file."""
    if status not in REFUSED and status is not None:
        return
    path.unlink(missing_ok=True)
    if not any(path.parent.iterdir()):
        path.parent.rmdir()


def _older_than(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:  # its writer finished and renamed it meanwhile
        return False


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
