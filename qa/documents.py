"""Reading a corpus folder: decoding files, finding title, section headings and paragraphs.

Every span is a character offset into the file's decoded text, so a citation can always be
checked against its source: ``document.text[start:end]``.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

SUFFIXES = {".txt", ".md", ".markdown"}
MAX_FILE_BYTES = 20 * 2**20  # larger files are skipped with a warning (see README, Limits)
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


_BOMS = (  # longest first: a UTF-32 LE mark begins like a UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
MAX_NON_ASCII_LETTERS = 0.2  # above this share, Windows-1252 is unlikely to be the encoding


def decode(data: bytes, name: str) -> str | None:
    """Decode a file's bytes; None (with a warning naming the file) when it is not text.

    Order: a byte-order mark, then UTF-8, then Windows-1252 when that reads as mostly-ASCII
    Latin text, then charset-normalizer's guess. Windows-1252 comes before the guess because
    detection is unreliable on short Western text (a French paragraph in cp1252 is guessed as
    cp1257 or mac_latin2), while legacy Western files are nearly always cp1252 or Latin-1.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                break
    if b"\x00" in data[:8192]:
        log.warning("skipping %s: binary file (contains NUL bytes)", name)
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = _as_western(data)
    encoding = "cp1252"
    if text is None:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        if best is None:
            log.warning("skipping %s: not text in any known encoding", name)
            return None
        text, encoding = str(best), best.encoding
    log.warning("%s is not UTF-8; decoded as %s (save it as UTF-8 to be sure)", name, encoding)
    return text


def _as_western(data: bytes) -> str | None:
    """``data`` as Windows-1252 when it decodes and its letters are mostly ASCII, else None."""
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    letters = [char for char in text if char.isalpha()]
    foreign = sum(not char.isascii() for char in letters)
    return text if letters and foreign <= MAX_NON_ASCII_LETTERS * len(letters) else None


def corpus_files(folder: Path) -> list[Path]:
    """Text and Markdown files under ``folder``, sorted; links leading outside are ignored.

    Hidden files and folders are skipped; linked folders are not descended into (pathlib's
    rglob does not follow them), and a linked file counts only if it resolves inside.
    """
    root = folder.resolve()
    found: list[Path] = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.suffix.lower() not in SUFFIXES or not path.is_file():
            continue
        if not path.resolve().is_relative_to(root):
            log.warning("skipping %s: symbolic link to a file outside the corpus", relative)
            continue
        found.append(path)
    return found


def check_corpus_folder(folder: Path) -> Path:
    """The resolved folder, or a FileNotFoundError that says what to do."""
    root = Path(folder).expanduser()
    if root.exists() and not root.is_dir():
        raise FileNotFoundError(
            f"Corpus folder {root} is a file, not a folder. Point to the folder that holds your "
            ".txt or .md files (qa build FOLDER, or QA_CORPUS=FOLDER)."
        )
    if not root.is_dir():
        raise FileNotFoundError(
            f"Corpus folder {root} does not exist. Create it and put .txt or .md files in it, "
            "or point to another folder (qa build FOLDER, or QA_CORPUS=FOLDER)."
        )
    return root.resolve()


def read_source(path: Path, root: Path) -> bytes | None:
    """A corpus file's bytes, or None (with a warning) when it is too large or unreadable.

    At most MAX_FILE_BYTES + 1 bytes are ever read, so memory stays bounded even when a file
    grows after it was measured; a file that vanished since the folder was listed is skipped.
    """
    name = path.relative_to(root).as_posix()
    try:
        with path.open("rb") as handle:
            too_big = os.fstat(handle.fileno()).st_size > MAX_FILE_BYTES
            data = b"" if too_big else handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        log.warning("skipping %s: cannot read it (%s)", name, error)
        return None
    if too_big or len(data) > MAX_FILE_BYTES:
        log.warning(
            "skipping %s: larger than the %d MB limit; split it into smaller files",
            name,
            MAX_FILE_BYTES // 2**20,
        )
        return None
    return data


def file_sha256(path: Path) -> str | None:
    """sha256 of a file read in blocks (bounded memory, any size); None if it cannot be read."""
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def document_from_bytes(name: str, data: bytes) -> Document | None:
    """The parsed document of one file's bytes, or None (with a warning) when unusable."""
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


def load_file(path: Path, root: Path) -> Document | None:
    """One parsed document, or None (with a warning) when the file cannot be used."""
    data = read_source(path, root)
    return None if data is None else document_from_bytes(path.relative_to(root).as_posix(), data)


def load_corpus(folder: Path) -> list[Document]:
    """Every usable document under ``folder``; raises when there is none."""
    root = check_corpus_folder(folder)
    documents = [doc for path in corpus_files(root) if (doc := load_file(path, root))]
    if not documents:
        raise FileNotFoundError(no_documents_message(root))
    return documents


def no_documents_message(root: Path) -> str:
    """What to say when a corpus folder holds nothing that can be indexed."""
    return (
        f"No usable documents in {root}: it has no non-empty .txt, .md or .markdown text "
        "files. Add some (UTF-8 is best), then run qa build, or point QA_CORPUS elsewhere."
    )


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
