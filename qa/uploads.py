"""Files uploaded through the chat page, checked before they join the corpus folder.

An upload is refused, with a message saying why, when its name could reach outside the folder
or hide (path separators, a leading dot, control characters), when its type is not one the
corpus reads or its content is not what its suffix says, when it is too large, when it cannot
be read as a document (an encrypted or scanned PDF, a zip bomb, ...), or when a different file
already has its name (nothing is overwritten). An accepted file is written whole under a
hidden temporary name and then linked to its name, so the folder never shows half a file.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from qa.documents import MAX_FILE_BYTES, check_corpus_folder, read_document
from qa.files import write_new
from qa.readers import SUFFIXES, Unreadable

log = logging.getLogger(__name__)

MAX_UPLOAD_BYTES = MAX_FILE_BYTES
MAX_NAME_CHARS = 150
_BINARY_MAGIC = (b"%PDF-", b"PK\x03\x04", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"\x7fELF", b"MZ")


class Refused(ValueError):
    """An upload that is not added; the message is shown to the person who uploaded it."""


@dataclass(frozen=True)
class Added:
    """An uploaded file now in the corpus folder (``new`` is False for an identical copy)."""

    name: str
    title: str
    new: bool


def clean_name(name: str) -> str:
    """The file name to save under, or Refused: one plain, visible name with a known suffix."""
    name = unicodedata.normalize("NFC", name).strip()
    if not name or "/" in name or "\\" in name or "\x00" in name:
        raise Refused(f"{name!r} is not a plain file name")
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise Refused("the file name contains control or invisible characters")
    if name.startswith(".") or name in ("..", "."):
        raise Refused(f"{name!r} is a hidden name; rename the file")
    if len(name) > MAX_NAME_CHARS:
        raise Refused(f"the file name is longer than {MAX_NAME_CHARS} characters")
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in SUFFIXES:
        readable = ", ".join(sorted(SUFFIXES))
        raise Refused(f"{name} is not a type the corpus reads ({readable})")
    return name


def sniff(name: str, data: bytes) -> None:
    """Refused unless the bytes look like the type the suffix names."""
    suffix = PurePosixPath(name).suffix.lower()
    head = data[:1024]
    if suffix == ".pdf":
        ok = b"%PDF-" in head
    elif suffix == ".docx":
        ok = data.startswith(b"PK\x03\x04") and b"word/" in data
    else:  # text, Markdown, HTML: no binary signature, no NUL bytes
        ok = not data.lstrip().startswith(_BINARY_MAGIC) and b"\x00" not in data[:8192]
        if ok and suffix in (".html", ".htm"):
            ok = b"<" in data[:4096]
    if not ok:
        raise Refused(f"{name} does not contain what its name says ({suffix} expected)")


def add_upload(folder: Path, name: str, data: bytes) -> Added:
    """Check an uploaded file and save it into the corpus folder; Refused says why not."""
    root = check_corpus_folder(folder)
    name = clean_name(name)
    if len(data) > MAX_UPLOAD_BYTES:
        raise Refused(f"{name} is larger than the {MAX_UPLOAD_BYTES // 2**20} MB limit")
    if not data:
        raise Refused(f"{name} is empty")
    sniff(name, data)
    target = root / name
    if target.exists() or target.is_symlink():
        same = target.is_file() and hashlib.sha256(target.read_bytes()).digest() == (
            hashlib.sha256(data).digest()
        )
        if not same:
            raise Refused(f"a different file named {name} is already in the corpus; rename it")
    try:
        document = read_document(name, data)
    except Unreadable as problem:
        raise Refused(f"{name} cannot be used: {problem}") from None
    if target.exists():
        return Added(name, document.title, new=False)
    try:
        write_new(target, data)
    except FileExistsError:
        raise Refused(f"a file named {name} was added meanwhile; rename yours") from None
    log.info("added uploaded file %s (%d bytes)", name, len(data))
    return Added(name, document.title, new=True)
