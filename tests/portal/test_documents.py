"""Membership documents: type by content, names only as data, storage that leaves no orphans."""

from __future__ import annotations

import hashlib
import struct
import zlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from chanye.portal import documents
from chanye.portal.documents import Upload
from chanye.store.database import session_scope
from chanye.store.migrate import upgrade
from chanye.store.models import MembershipDocument

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48


def png() -> bytes:
    """A real 1×1 white PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\xff\xff")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_type_comes_from_the_content_not_the_name() -> None:
    assert documents.detect_type(PDF).content_type == "application/pdf"  # type: ignore[union-attr]
    assert documents.detect_type(JPEG).extension == "jpg"  # type: ignore[union-attr]
    assert documents.detect_type(png()).content_type == "image/png"  # type: ignore[union-attr]
    assert documents.detect_type(EXE) is None
    assert documents.detect_type(b"<html><script>alert(1)</script>") is None
    assert documents.detect_type(b"%PD") is None  # a truncated signature is not a PDF


def test_display_name_keeps_no_folders_or_control_characters() -> None:
    assert documents.display_name("C:\\Users\\王\\营业执照.pdf") == "营业执照.pdf"
    assert documents.display_name("../../etc/passwd") == "passwd"
    assert documents.display_name("a\r\nb\x00.png") == "ab.png"
    assert documents.display_name("/") == "未命名文件"
    long = documents.display_name("长" * 300 + ".pdf")
    assert len(long) == 255 and long.endswith(".pdf")


def test_every_problem_names_its_file() -> None:
    uploads = [
        Upload("other", "empty.pdf", b""),
        Upload("other", "setup.pdf", EXE),
        Upload("other", "big.pdf", PDF + b"0" * (1 << 20)),
        *[Upload("other", f"more{i}.pdf", PDF) for i in range(3)],
    ]
    problems = documents.document_problems(uploads, max_mb=1)
    text = "\n".join(f"{p.field}: {p.zh} / {p.en}" for p in problems)
    assert "licence: 请上传营业执照" in text
    assert "其他材料最多 4 个文件" in text
    assert "“empty.pdf”是空文件" in text
    assert "“setup.pdf”不是 PDF、JPG 或 PNG 文件" in text and "setup.pdf: not a PDF" in text
    assert "“big.pdf”超过 1 MB 上限" in text
    assert not documents.document_problems([Upload("licence", "执照.png", png())], max_mb=1)
    two = documents.document_problems([Upload("licence", "a.pdf", PDF)] * 2, max_mb=1)
    assert [p.zh for p in two] == ["营业执照只能上传一个文件"]


def test_content_disposition_is_an_attachment_with_the_name() -> None:
    header = documents.content_disposition('营业执照 "v2".pdf')
    assert header.startswith("attachment; ")
    assert 'filename="____ _v2_.pdf"' in header
    assert "filename*=UTF-8''%E8%90%A5%E4%B8%9A%E6%89%A7%E7%85%A7%20%22v2%22.pdf" in header


def _count(url: str) -> int:
    with session_scope(url) as session:
        return session.scalar(select(func.count()).select_from(MembershipDocument)) or 0


def test_stored_under_a_random_name_and_removed_when_the_transaction_fails(
    database_url: str, tmp_path: Path
) -> None:
    upgrade(database_url)
    uploads_dir = tmp_path / "uploads"
    image = png()
    with session_scope(database_url) as session:
        rows = documents.store(session, 7, [Upload("licence", "x/执照.pdf", image)], uploads_dir)
    (row,) = rows
    assert row.content_type == "image/png" and row.original_name == "执照.pdf"
    assert row.stored_name.endswith(".png") and len(row.stored_name) == 36
    assert row.sha256 == hashlib.sha256(image).hexdigest() and row.size == len(image)
    path = documents.stored_path(uploads_dir, row)
    assert path is not None and path.read_bytes() == image
    assert path.parent == uploads_dir / "membership"

    with pytest.raises(RuntimeError), session_scope(database_url) as session:
        documents.store(session, 8, [Upload("licence", "b.pdf", PDF)], uploads_dir)
        raise RuntimeError("a later step of the request fails")
    assert sorted(p.name for p in (uploads_dir / "membership").iterdir()) == [row.stored_name]
    assert _count(database_url) == 1


def test_stored_path_only_for_names_chanye_makes(tmp_path: Path) -> None:
    (tmp_path / "membership").mkdir()
    (tmp_path / "secret.txt").write_text("no")
    forged = MembershipDocument(stored_name="../secret.txt")
    assert documents.stored_path(tmp_path, forged) is None
    missing = MembershipDocument(stored_name="0" * 32 + ".pdf")
    assert documents.stored_path(tmp_path, missing) is None
