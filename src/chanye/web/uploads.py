"""Files posted with a form, read as documents (``chanye.portal.documents.Upload``), and stored
documents sent back as downloads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from fastapi import HTTPException
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile  # FastAPI's UploadFile is a subclass

from chanye.portal import documents
from chanye.store.audit import Actor, record
from chanye.store.models import StoredFileColumns


def read_upload(file: UploadFile | None, kind: str, limit: int) -> list[documents.Upload]:
    """The upload of one file input; nothing when no file was chosen. At most one byte over the
    limit is read: enough to know it is too large."""
    if file is None:
        return []
    content = file.file.read(limit + 1)
    if not file.filename and not content:  # the browser sends an empty part for "no file"
        return []
    return [documents.Upload(kind, file.filename or "", content)]


def document_response(path: Path, document: Downloadable | StoredFileColumns) -> FileResponse:
    """A stored document sent as a download: never shown inline, never sniffed, never cached."""
    return FileResponse(
        path,
        media_type=document.content_type,
        headers={
            "Content-Disposition": documents.content_disposition(document.original_name),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


class Downloadable(Protocol):
    """A stored document row (membership, binding, 快申 application)."""

    id: int
    stored_name: str
    content_type: str
    original_name: str


@dataclass(frozen=True)
class DocumentRead:
    """The audit row a download writes: who read which document of what (worth knowing later)."""

    action: str  # binding.document_read
    target: str  # binding_document
    owner: str  # binding
    owner_id: int


def audited_download(
    db: Session,
    actor: Actor,
    uploads_dir: Path,
    document: Downloadable | None,
    folder: str,
    read: DocumentRead,
    missing: str = "没有这个文件",
) -> FileResponse:
    """A stored document of its owner (``None``: not one of the owner's) as an audited
    download; 404 when there is no such file."""
    path = None if document is None else documents.stored_path(uploads_dir, document, folder)
    if document is None or path is None:
        raise HTTPException(404, missing)
    after = {read.owner: read.owner_id}
    record(db, actor, read.action, read.target, str(document.id), after=after)
    return document_response(path, document)
