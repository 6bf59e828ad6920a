"""File readers: one module per format, each turning a file's bytes into a Document.

A reader takes the file's corpus-relative name and its bytes and returns a ``Document`` whose
spans index ``Document.text``, or raises ``Unreadable`` with a reason a person can act on.
A new format joins by adding its module and one line to ``READERS``. Each reader's heavy
library is imported only when a file of its format is read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa.documents import Document

Reader = Callable[[str, bytes], "Document"]


class Unreadable(ValueError):
    """A file that cannot be indexed; the message says why (shown in the build's warning)."""


def _markdown(name: str, data: bytes) -> Document:
    from qa.readers import markdown

    return markdown.read(name, data)


def _plain(name: str, data: bytes) -> Document:
    from qa.readers import plain

    return plain.read(name, data)


def _pdf(name: str, data: bytes) -> Document:
    from qa.readers import pdf

    return pdf.read(name, data)


def _docx(name: str, data: bytes) -> Document:
    from qa.readers import docx

    return docx.read(name, data)


def _html(name: str, data: bytes) -> Document:
    from qa.readers import html

    return html.read(name, data)


READERS: dict[str, Reader] = {
    ".txt": _plain,
    ".md": _markdown,
    ".markdown": _markdown,
    ".pdf": _pdf,
    ".docx": _docx,
    ".html": _html,
    ".htm": _html,
}
SUFFIXES = frozenset(READERS)
# Formats whose bytes are the text that spans index; for the others (PDF, Word, web pages)
# the text read is kept beside the index, so citations can be checked without re-reading.
TEXT_SUFFIXES = frozenset({".txt", ".md", ".markdown"})


def reader_for(name: str) -> Reader | None:
    """The reader for a file name by its suffix (any case), or None for other files."""
    return READERS.get(PurePosixPath(name).suffix.lower())


def keeps_text(name: str) -> bool:
    """Whether the text read from this file is kept with the index (its bytes are not it)."""
    return PurePosixPath(name).suffix.lower() not in TEXT_SUFFIXES
