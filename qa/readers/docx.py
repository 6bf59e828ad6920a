"""Word (.docx), read with python-docx: paragraphs and tables in document order, headings from
Word's heading styles (Title, Heading 1-9) or an outline level.

A .docx is a zip archive, so its declared sizes are checked before anything is unpacked: a
file that would unpack to more than ``limits.MAX_UNZIPPED_BYTES``, or whose parts are
compressed implausibly well (a zip bomb), is refused. Page headers and footers are not text
of the document; a .docx has no fixed pages (Word lays them out when it shows the file).
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from qa.documents import Block, Document, assemble
from qa.readers import Unreadable, limits

_HEADING_STYLE = re.compile(r"^(title|heading\s*\d|subtitle)$", re.I)
_SPACES = re.compile(r"[ \t\u00a0]+")


def check_zip(data: bytes) -> zipfile.ZipFile:
    """The archive, after checking member count, unpacked size and compression ratios."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError, OSError) as error:
        raise Unreadable(f"damaged Word file, not a readable zip archive ({error})") from None
    if len(members) > limits.MAX_ZIP_MEMBERS:
        raise Unreadable(f"zip archive of {len(members):,} parts; not a Word document")
    total = sum(member.file_size for member in members)
    if total > limits.MAX_UNZIPPED_BYTES:
        raise Unreadable(
            f"would unpack to {total / 2**20:,.0f} MB, more than the "
            f"{limits.MAX_UNZIPPED_BYTES // 2**20} MB limit (a zip bomb?)"
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > 2**20 and ratio > limits.MAX_ZIP_RATIO:
            raise Unreadable(
                f"{member.filename} is compressed {ratio:,.0f} times (a zip bomb?); "
                f"the limit is {limits.MAX_ZIP_RATIO}"
            )
    if "word/document.xml" not in {member.filename for member in members}:
        raise Unreadable("not a Word document (no word/document.xml inside)")
    return archive


def read(name: str, data: bytes) -> Document:
    """The document in a .docx file's bytes; raises Unreadable for files that cannot be used."""
    check_zip(data).close()
    import docx

    try:
        word = docx.Document(io.BytesIO(data))
        pieces = list(_pieces(word))
    except Unreadable:
        raise
    except Exception as error:  # python-docx and lxml raise many kinds on damaged files
        raise Unreadable(f"damaged Word file ({type(error).__name__}: {error})") from None
    parts: list[str] = []
    blocks: list[Block] = []
    offset = 0
    for text, heading in pieces:
        if parts:
            offset += 2
        parts.append(text)
        blocks.append((offset, offset + len(text), text if heading else None))
        offset += len(text)
        if offset > limits.MAX_TEXT_CHARS:
            raise Unreadable(f"more than {limits.MAX_TEXT_CHARS:,} characters of text")
    return assemble(name, "\n\n".join(parts), blocks)


def _pieces(word: Any) -> Any:
    """(text, is_heading) for each non-empty paragraph and table row, in document order."""
    for item in word.iter_inner_content():
        if hasattr(item, "rows"):  # a table: one paragraph per row, cells separated by " | "
            for row in item.rows:
                cells: list[str] = []
                for cell in row.cells:
                    text = _clean(cell.text)
                    if text and (not cells or cells[-1] != text):  # merged cells repeat
                        cells.append(text)
                if cells:
                    yield " | ".join(cells), False
            continue
        text = _clean(item.text)
        if text:
            yield text, _is_heading(item)


def _clean(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r", "\n").split("\n")]
    return "\n".join(line for line in lines if line)


def _is_heading(paragraph: Any) -> bool:
    """Word heading styles, or a paragraph given an outline level directly."""
    style = paragraph.style
    while style is not None:
        if _HEADING_STYLE.match(style.name or ""):
            return len(paragraph.text.split()) <= 40
        style = style.base_style
    properties = paragraph._p.pPr
    level = (
        properties.find("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}outlineLvl")
        if properties is not None
        else None
    )
    return level is not None and len(paragraph.text.split()) <= 40
