"""File readers: one module per format, each turning a file's bytes into a Document.

A reader takes the file's corpus-relative name and its bytes and returns a ``Document`` whose
spans index ``Document.text``, or raises ``Unreadable`` with a reason a person can act on.
A new format joins by adding its module and one line to ``READERS``.
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


READERS: dict[str, Reader] = {".txt": _plain, ".md": _markdown, ".markdown": _markdown}
SUFFIXES = frozenset(READERS)


def reader_for(name: str) -> Reader | None:
    """The reader for a file name by its suffix (any case), or None for other files."""
    return READERS.get(PurePosixPath(name).suffix.lower())
