"""What every spreadsheet chanye hands out has in common: cells that cannot run as formulas, and
a workbook turned into the bytes of a download.

A cell whose text starts with ``=``, ``+``, ``-`` or ``@`` is run as a formula by Excel and
LibreOffice; a leading tab or carriage return hides such a start from a naive check, so it is
refused as well. The safe form is the same text after a ``'``, which spreadsheets show as text
(OWASP, "CSV Injection").
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from openpyxl import Workbook

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")
"""The first characters that make a spreadsheet read a cell as a formula."""


def formula_safe(value: str) -> str:
    """Text a spreadsheet will show, never run as a formula."""
    return f"'{value}" if value.startswith(FORMULA_LEADS) else value


def workbook_bytes(workbook: Workbook) -> bytes:
    """An openpyxl workbook as the bytes of an .xlsx file (for a download or a write)."""
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
