"""Files posted with a form, read as documents (``chanye.portal.documents.Upload``)."""

from __future__ import annotations

from fastapi import UploadFile

from chanye.portal import documents


def read_upload(file: UploadFile | None, kind: str, limit: int) -> list[documents.Upload]:
    """The upload of one file input; nothing when no file was chosen. At most one byte over the
    limit is read: enough to know it is too large."""
    if file is None:
        return []
    content = file.file.read(limit + 1)
    if not file.filename and not content:  # the browser sends an empty part for "no file"
        return []
    return [documents.Upload(kind, file.filename or "", content)]
