"""Files posted with a form, read as documents (``chanye.portal.documents.Upload``), and stored
documents sent back as downloads."""

from __future__ import annotations

from pathlib import Path

from fastapi import UploadFile
from fastapi.responses import FileResponse

from chanye.portal import documents
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


def document_response(path: Path, document: StoredFileColumns) -> FileResponse:
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
