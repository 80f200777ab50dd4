"""Text of attached files: PDF (pypdf), Word .docx (python-docx) and plain text."""

from __future__ import annotations

import io
from pathlib import PurePosixPath

import docx
from pypdf import PdfReader
from pypdf.errors import PdfReadError

TEXT_TYPES = {".txt", ".md", ".markdown", ".csv", ".log", ".json", ".yaml", ".yml"}
SUPPORTED = {".pdf", ".docx", *TEXT_TYPES}


def supported(filename: str) -> bool:
    return PurePosixPath(filename.lower()).suffix in SUPPORTED


def _pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n\n".join((page.extract_text() or "").strip() for page in reader.pages).strip()


def _docx_text(data: bytes) -> str:
    document = docx.Document(io.BytesIO(data))
    lines: list[str] = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        if style.startswith("Heading") and style[-1:].isdigit():
            lines.append(f"{'#' * int(style[-1])} {text}")
        else:
            lines.append(text)
    for table in document.tables:
        for row in table.rows:
            lines.append(" | ".join(cell.text.strip() for cell in row.cells))
    return "\n\n".join(lines)


def extract_text(filename: str, data: bytes) -> str:
    """The text of an attachment; ValueError (with the reason) when it cannot be read."""
    suffix = PurePosixPath(filename.lower()).suffix
    try:
        if suffix == ".pdf":
            return _pdf_text(data)
        if suffix == ".docx":
            return _docx_text(data)
        if suffix in TEXT_TYPES:
            return data.decode("utf-8-sig").strip()
    except (PdfReadError, UnicodeDecodeError, KeyError, ValueError, OSError) as err:
        raise ValueError(f"{filename}: cannot extract text ({type(err).__name__}: {err})") from err
    raise ValueError(f"{filename}: unsupported attachment type '{suffix}'")
