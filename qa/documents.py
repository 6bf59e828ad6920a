"""Reading a corpus folder: decoding files, finding title, section headings and paragraphs.

Every span is a character offset into the file's decoded text, so a citation can always be
checked against its source: ``document.text[start:end]``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIXES = {".txt", ".md", ".markdown"}
MAX_FILE_BYTES = 20 * 1024 * 1024  # larger files are skipped with a warning
HEADING_MAX_WORDS = 14
HEADING_MAX_CHARS = 120

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_MD_HEADING = re.compile(r"^[ \t]{0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_CLOSING = tuple(".,;:!")


@dataclass(frozen=True)
class Section:
    """A heading and the paragraphs under it; ``heading`` is "" for text before any heading."""

    heading: str
    paragraphs: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Document:
    """One decoded file with its structure."""

    source: str  # path relative to the corpus folder, with forward slashes
    title: str
    text: str
    sections: tuple[Section, ...]
    sha256: str  # of the raw bytes, for staleness checks


def is_heading(line: str) -> bool:
    """A short single line that starts like a title and does not end like a sentence."""
    stripped = line.strip()
    if not stripped or "\n" in stripped or len(stripped) > HEADING_MAX_CHARS:
        return False
    if len(stripped.split()) > HEADING_MAX_WORDS or stripped.endswith(_CLOSING):
        return False
    first = stripped[0]
    return (first.isalpha() and first.isupper()) or first.isdigit()


def _blocks(text: str) -> Iterator[tuple[int, int, bool]]:
    """Yield (start, end, is_markdown_heading) for every non-blank block, stripped."""
    pieces: list[tuple[int, int, bool]] = []
    cursor = 0
    for match in _MD_HEADING.finditer(text):
        pieces.extend(_plain_blocks(text, cursor, match.start()))
        pieces.append((match.start(2), match.end(2), True))
        cursor = match.end()
    pieces.extend(_plain_blocks(text, cursor, len(text)))
    yield from pieces


def _plain_blocks(text: str, start: int, end: int) -> Iterator[tuple[int, int, bool]]:
    cursor = start
    for gap in _BLANK_LINE.finditer(text, start, end):
        yield from _strip_span(text, cursor, gap.start())
        cursor = gap.end()
    yield from _strip_span(text, cursor, end)


def _strip_span(text: str, start: int, end: int) -> Iterator[tuple[int, int, bool]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        yield (start, end, False)


def parse_document(source: str, text: str, sha256: str = "") -> Document:
    """Split decoded text into title, sections and paragraph spans.

    Headings with nothing under them (such as a trailing list of related article titles) are
    not sections: they carry no content and must never be used as evidence.
    """
    blocks = list(_blocks(text))
    title = ""
    if blocks and (blocks[0][2] or is_heading(text[blocks[0][0] : blocks[0][1]])):
        title = text[blocks[0][0] : blocks[0][1]]
        blocks = blocks[1:]
    if not title:
        title = Path(source).stem.replace("_", " ").replace("-", " ").strip() or source

    sections: list[Section] = []
    heading = ""
    paragraphs: list[tuple[int, int]] = []
    for start, end, markdown in blocks:
        if markdown or is_heading(text[start:end]):
            if paragraphs:
                sections.append(Section(heading, tuple(paragraphs)))
            heading, paragraphs = text[start:end], []
        else:
            paragraphs.append((start, end))
    if paragraphs:
        sections.append(Section(heading, tuple(paragraphs)))
    return Document(source=source, title=title, text=text, sections=tuple(sections), sha256=sha256)


def decode(data: bytes, name: str) -> str | None:
    """Decode bytes as UTF-8, else the best guess of charset-normalizer; None for binary."""
    if b"\x00" in data[:8192]:
        log.warning("skipping %s: binary file (contains NUL bytes)", name)
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        log.warning("skipping %s: not text in any known encoding", name)
        return None
    log.warning("%s is not UTF-8; decoded as %s", name, best.encoding)
    return str(best)


def corpus_files(folder: Path) -> list[Path]:
    """Text and Markdown files under ``folder``, sorted; links leading outside are ignored."""
    root = folder.resolve()
    found: list[Path] = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() not in SUFFIXES or not path.is_file():
            continue
        if path.is_symlink() and not path.resolve().is_relative_to(root):
            log.warning("skipping %s: symbolic link to a file outside the corpus", relative)
            continue
        found.append(path)
    return found


def check_corpus_folder(folder: Path) -> Path:
    """The resolved folder, or a FileNotFoundError that says what to do."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(
            f"Corpus folder {root} does not exist. Create it and put .txt or .md files in it, "
            "or point to another folder (qa build FOLDER, or QA_CORPUS=FOLDER)."
        )
    return root.resolve()


def load_file(path: Path, root: Path) -> Document | None:
    """One parsed document, or None (with a warning) when the file cannot be used."""
    name = path.relative_to(root).as_posix()
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            log.warning(
                "skipping %s: %d bytes is over the %d-byte limit", name, size, MAX_FILE_BYTES
            )
            return None
        data = path.read_bytes()
    except OSError as error:
        log.warning("skipping %s: cannot read it (%s)", name, error)
        return None
    text = decode(data, name)
    if text is None:
        return None
    if not text.strip():
        log.warning("skipping %s: empty file", name)
        return None
    document = parse_document(name, text, hashlib.sha256(data).hexdigest())
    if not document.sections:
        log.warning("skipping %s: no paragraphs of text found", name)
        return None
    return document


def load_corpus(folder: Path) -> list[Document]:
    """Every usable document under ``folder``; raises when there is none."""
    root = check_corpus_folder(folder)
    documents = [doc for path in corpus_files(root) if (doc := load_file(path, root))]
    if not documents:
        raise FileNotFoundError(
            f"No usable .txt or .md documents in {root}. Add some text files and run qa build."
        )
    return documents


@dataclass(frozen=True)
class Excerpt:
    """A cited span in its document: the paragraphs around it, with title and section.

    ``start``/``end`` bound ``text`` in the document, so the span sits at
    ``text[span_start - start : span_end - start]``.
    """

    source: str
    title: str
    section: str
    start: int
    end: int
    text: str


def excerpt(
    folder: Path, source: str, start: int, end: int, quote: str | None = None, around: int = 1
) -> Excerpt:
    """The paragraph(s) holding ``[start, end)`` of ``source`` and ``around`` neighbours each side.

    Read from the corpus file itself, so a reader sees the citation in context. Raises
    FileNotFoundError when the file is gone and ValueError when it no longer holds ``quote``
    at that span (the file changed since the index was built: run qa build).
    """
    root = check_corpus_folder(folder)
    path = (root / source).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise FileNotFoundError(f"{source} is not in the corpus folder {root} any more.")
    document = load_file(path, root)
    if document is None or (quote is not None and document.text[start:end] != quote):
        raise ValueError(f"{source} changed since the index was built; run qa build.")
    for section in document.sections:
        hits = [i for i, (a, b) in enumerate(section.paragraphs) if a < end and start < b]
        if hits:
            first = max(hits[0] - around, 0)
            last = min(hits[-1] + around, len(section.paragraphs) - 1)
            begin, finish = section.paragraphs[first][0], section.paragraphs[last][1]
            return Excerpt(
                source, document.title, section.heading, begin, finish, document.text[begin:finish]
            )
    raise ValueError(f"{source} has no paragraph at characters {start}-{end}; run qa build.")
