"""Documents uploaded by enterprises (a membership application, a binding's verification):
checked by content, stored out of reach.

The type of a file is decided by its first bytes (PDF, JPEG or PNG); the file name and the
browser's content type are not trusted. Files are stored outside the web root under a random
name; the original name is kept only as data, for display. A file written for a transaction that
rolls back is removed again, so no file outlives its row.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import quote

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from chanye.problems import Problem
from chanye.store.models import MembershipDocument

LICENCE = "licence"
OTHER = "other"
AUTHORISATION = "authorisation"
KIND_LABELS = {LICENCE: "营业执照", OTHER: "其他材料", AUTHORISATION: "授权委托书"}
FIELD_OF = {LICENCE: LICENCE, OTHER: "others", AUTHORISATION: AUTHORISATION}
MAX_OTHER_DOCUMENTS = 4
FOLDER = "membership"
STORED_NAME = re.compile(r"^[0-9a-f]{32}\.(pdf|jpg|png)$")
ACCEPTED = "PDF、JPG 或 PNG"


@dataclass(frozen=True)
class FileType:
    content_type: str
    extension: str
    label: str


SIGNATURES: tuple[tuple[bytes, FileType], ...] = (
    (b"%PDF-", FileType("application/pdf", "pdf", "PDF")),
    (b"\xff\xd8\xff", FileType("image/jpeg", "jpg", "JPEG 图片")),
    (b"\x89PNG\r\n\x1a\n", FileType("image/png", "png", "PNG 图片")),
)
LABEL_OF = {file_type.content_type: file_type.label for _magic, file_type in SIGNATURES}


class StoredDocument(Protocol):
    """What every stored document row has (``MembershipDocument``, ``BindingDocument``)."""

    stored_name: str


@dataclass(frozen=True)
class StoredFile:
    """A file written under its random name, with what its row keeps about it."""

    kind: str
    original_name: str
    content_type: str
    size: int
    sha256: str
    stored_name: str


@dataclass(frozen=True)
class Upload:
    """One file as received: its kind (licence / other), the name the browser gave, its bytes."""

    kind: str
    filename: str
    content: bytes


def detect_type(content: bytes) -> FileType | None:
    """What the file is, judged by its first bytes only."""
    return next((ftype for magic, ftype in SIGNATURES if content.startswith(magic)), None)


def display_name(filename: str) -> str:
    """The name to show: no folder parts (either slash), no control characters, at most 255."""
    name = re.split(r"[\\/]", filename)[-1]
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip()
    if len(name) > 255:
        stem, dot, suffix = name.rpartition(".")
        name = f"{stem[: 254 - len(suffix)]}.{suffix}" if dot and len(suffix) <= 10 else name[:255]
    return name or "未命名文件"


def document_problems(uploads: Sequence[Upload], max_mb: int) -> list[Problem]:
    """Every reason to refuse a membership application's uploads (none: all may be stored)."""
    problems = one_of_each(uploads, (LICENCE,))
    if len([u for u in uploads if u.kind == OTHER]) > MAX_OTHER_DOCUMENTS:
        problems.append(
            Problem(
                "others",
                f"其他材料最多 {MAX_OTHER_DOCUMENTS} 个文件",
                f"at most {MAX_OTHER_DOCUMENTS} other documents",
            )
        )
    for upload in uploads:
        problems += file_problems(upload, max_mb)
    return problems


def required_problems(
    uploads: Sequence[Upload], kinds: Sequence[str], max_mb: int
) -> list[Problem]:
    """Every reason to refuse uploads that must be exactly one file of each of ``kinds``."""
    problems = one_of_each(uploads, kinds)
    problems += [
        Problem(FIELD_OF.get(u.kind, u.kind), "不需要这种材料", f"unexpected {u.kind}")
        for u in uploads
        if u.kind not in kinds
    ]
    for upload in uploads:
        problems += file_problems(upload, max_mb)
    return problems


def one_of_each(uploads: Sequence[Upload], kinds: Sequence[str]) -> list[Problem]:
    problems = []
    for kind in kinds:
        label, count = KIND_LABELS[kind], sum(1 for u in uploads if u.kind == kind)
        if not count:
            problems.append(
                Problem(FIELD_OF[kind], f"请上传{label}（{ACCEPTED}）", f"the {kind} is required")
            )
        elif count > 1:
            problems.append(
                Problem(
                    FIELD_OF[kind], f"{label}只能上传一个文件", f"upload the {kind} as one file"
                )
            )
    return problems


def file_problems(upload: Upload, max_mb: int) -> list[Problem]:
    field = FIELD_OF.get(upload.kind, upload.kind)
    name = display_name(upload.filename)
    if not upload.content:
        return [Problem(field, f"文件“{name}”是空文件", f"{name}: the file is empty")]
    if len(upload.content) > max_mb << 20:
        return [
            Problem(field, f"文件“{name}”超过 {max_mb} MB 上限", f"{name}: larger than {max_mb} MB")
        ]
    if detect_type(upload.content) is None:
        return [
            Problem(
                field,
                f"文件“{name}”不是 {ACCEPTED} 文件（按文件内容识别，与文件名无关）",
                f"{name}: not a PDF, JPEG or PNG file (judged by its content)",
            )
        ]
    return []


def store(
    session: Session, application_id: int, uploads: Sequence[Upload], uploads_dir: Path
) -> list[MembershipDocument]:
    """Write a membership application's checked uploads and add their rows to the session."""
    rows = [
        MembershipDocument(application_id=application_id, **asdict(stored))
        for stored in write_files(session, uploads, uploads_dir / FOLDER)
    ]
    session.add_all(rows)
    session.flush()
    return rows


def write_files(session: Session, uploads: Sequence[Upload], folder: Path) -> list[StoredFile]:
    """Write checked uploads into ``folder`` under random names.

    Call only after the uploads' problems were found to be none. Files are removed again if the
    session's transaction rolls back (a failed commit, a later error in the request).
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = _discard_on_rollback(session)
    stored = []
    for upload in uploads:
        file_type = detect_type(upload.content)
        if file_type is None:  # the problem checks refuse these; never store one by mistake
            raise ValueError(f"unchecked upload {upload.filename!r}")
        stored_name = f"{uuid.uuid4().hex}.{file_type.extension}"
        path = folder / stored_name
        with path.open("xb") as out:
            written.append(path)
            out.write(upload.content)
        stored.append(
            StoredFile(
                kind=upload.kind,
                original_name=display_name(upload.filename),
                content_type=file_type.content_type,
                size=len(upload.content),
                sha256=hashlib.sha256(upload.content).hexdigest(),
                stored_name=stored_name,
            )
        )
    return stored


def _discard_on_rollback(session: Session) -> list[Path]:
    """A list of paths that are deleted if this session's transaction rolls back."""
    paths: list[Path] = []
    settled = False

    def committed(_session: Session) -> None:
        nonlocal settled
        settled = True

    def rolled_back(_session: Session) -> None:
        nonlocal settled
        if not settled:
            settled = True
            for path in paths:
                path.unlink(missing_ok=True)

    event.listen(session, "after_commit", committed, once=True)
    event.listen(session, "after_rollback", rolled_back, once=True)
    return paths


def stored_path(uploads_dir: Path, document: StoredDocument, folder: str = FOLDER) -> Path | None:
    """Where a document's file is, if it is there (and its stored name is one we make)."""
    if not STORED_NAME.match(document.stored_name):
        return None
    path = uploads_dir / folder / document.stored_name
    return path if path.is_file() else None


def content_disposition(name: str) -> str:
    """``attachment`` with the original name: UTF-8 for browsers, an ASCII stand-in for others."""
    fallback = "".join(
        ch if ch.isascii() and ch.isprintable() and ch not in '"\\;' else "_" for ch in name
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def documents_of(session: Session, application_id: int) -> list[MembershipDocument]:
    return list(
        session.scalars(
            select(MembershipDocument)
            .where(MembershipDocument.application_id == application_id)
            .order_by(MembershipDocument.id)
        )
    )
