"""The text read from PDF, Word and web-page files, kept beside the index.

Citations of such files index the text their reader produced, not the file's bytes. That text
is saved with the index, one JSON file per document version (``text-<source>-<content>.json``),
so a citation's quote can always be checked and shown in its context without parsing the file
again, even after the file changed or became unreadable: the version an index was built from
stays until the build after next.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from qa.documents import Document
from qa.files import atomic_write

log = logging.getLogger(__name__)

PREFIX = "text-"


def _source_key(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:12]


def save(directory: Path, document: Document) -> str:
    """Keep ``document`` in ``directory``; returns the file name (the same content, the same
    name, so an unchanged document is written once)."""
    blob = json.dumps(document.to_dict(), ensure_ascii=False, sort_keys=True).encode("utf-8")
    name = f"{PREFIX}{_source_key(document.source)}-{hashlib.sha256(blob).hexdigest()[:16]}.json"
    if not (directory / name).is_file():
        atomic_write(directory / name, blob)
    return name


def load(directory: Path, name: str) -> Document | None:
    """A kept document, or None when its file is missing or damaged."""
    try:
        data: dict[str, Any] = json.loads((directory / name).read_text(encoding="utf-8"))
        return Document.from_dict(data)
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("kept text %s in %s is unreadable (%s)", name, directory, error)
        return None


def find(
    directory: Path, source: str, start: int, end: int, quote: str | None, current: str | None
) -> Document | None:
    """The kept text of ``source`` that holds ``quote`` at ``start``-``end``.

    ``current`` (the name the loaded index records) is tried first, then older versions still
    kept, newest first; without a quote the current version is returned.
    """
    names = [current] if current else []
    older = sorted(directory.glob(f"{PREFIX}{_source_key(source)}-*.json"), key=_age)
    names += [path.name for path in older if path.name != current]
    for name in names:
        document = load(directory, name)
        if document is None or document.source != source:
            continue
        if quote is None or document.text[start:end] == quote:
            return document
    return None


def _age(path: Path) -> int:
    """Newest first; a file removed meanwhile sorts last (and then fails to load)."""
    try:
        return -path.stat().st_mtime_ns
    except OSError:
        return 0


def names_in(manifest: dict[str, Any] | None) -> set[str]:
    """The kept-text files a manifest refers to."""
    files = (manifest or {}).get("files", {})
    return {entry["kept"] for entry in files.values() if "kept" in entry}
