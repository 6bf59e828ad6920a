"""Reading a corpus folder: decoding files, finding title, section headings and paragraphs.

Every span is a character offset into the file's decoded text, so a citation can always be
checked against its source: ``document.text[start:end]``.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 20 * 2**20  # larger files are skipped with a warning (see README, Limits)

# A block of a document as its reader found it: (start, end, heading text), where the heading
# text is None for a paragraph. Spans index the document's text.
Block = tuple[int, int, "str | None"]


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
    # Offset in ``text`` where each page starts (formats with pages, such as PDF), else ().
    pages: tuple[int, ...] = ()

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character ``offset``, None for formats without pages."""
        return page_at(self.pages, offset)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        sections = tuple(
            Section(s["heading"], tuple((a, b) for a, b in s["paragraphs"]))
            for s in data["sections"]
        )
        return cls(
            source=data["source"],
            title=data["title"],
            text=data["text"],
            sections=sections,
            sha256=data["sha256"],
            pages=tuple(data.get("pages", ())),
        )


def page_at(pages: tuple[int, ...] | list[int], offset: int) -> int | None:
    """The 1-based page whose text holds ``offset``, given each page's start (None: no pages).

    A page without text starts where the next one does, so the later page is chosen.
    """
    return max(bisect.bisect_right(pages, offset), 1) if pages else None


def assemble(source: str, text: str, blocks: list[Block], pages: tuple[int, ...] = ()) -> Document:
    """A Document from a reader's blocks: a heading first is the title, the others open sections.

    Without a title the file name stands in. Headings with nothing under them (such as a
    trailing list of related article titles) are not sections: they carry no content and must
    never be used as evidence.
    """
    title = ""
    if blocks and blocks[0][2] is not None:
        title, blocks = blocks[0][2], blocks[1:]
    if not title:
        title = Path(source).stem.replace("_", " ").replace("-", " ").strip() or source
    sections: list[Section] = []
    heading = ""
    paragraphs: list[tuple[int, int]] = []
    for start, end, block_heading in blocks:
        if block_heading is not None:
            if paragraphs:
                sections.append(Section(heading, tuple(paragraphs)))
            heading, paragraphs = block_heading, []
        else:
            paragraphs.append((start, end))
    if paragraphs:
        sections.append(Section(heading, tuple(paragraphs)))
    return Document(
        source=source, title=title, text=text, sections=tuple(sections), sha256="", pages=pages
    )


def corpus_files(folder: Path) -> list[Path]:
    """Files under ``folder`` in a format the corpus reads, sorted; links leading outside are
    ignored.

    Hidden files and folders are skipped; linked folders are not descended into (pathlib's
    rglob does not follow them), and a linked file counts only if it resolves inside.
    """
    from qa.readers import SUFFIXES

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
            "documents (qa build FOLDER, or QA_CORPUS=FOLDER)."
        )
    if not root.is_dir():
        raise FileNotFoundError(
            f"Corpus folder {root} does not exist. Create it and put .txt or .md files in it "
            "(or PDF, Word .docx, .html), or point to another folder (qa build FOLDER, or "
            "QA_CORPUS=FOLDER)."
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


def read_document(name: str, data: bytes) -> Document:
    """The document read from one file's bytes by its format's reader; raises Unreadable
    with the reason when it cannot be used (anything a reader raises counts as that, so a
    library's surprise on a strange file never stops a build)."""
    from qa.readers import Unreadable, reader_for

    reader = reader_for(name)
    if reader is None:
        raise Unreadable("not a format the corpus reads")
    try:
        document = reader(name, data)
    except Unreadable:
        raise
    except Exception as error:
        raise Unreadable(f"cannot be read ({type(error).__name__}: {error})") from None
    if not document.text.strip():
        raise Unreadable("empty file")
    if not document.sections:
        raise Unreadable("no paragraphs of text found")
    return replace(document, sha256=hashlib.sha256(data).hexdigest())


def document_from_bytes(name: str, data: bytes) -> Document | None:
    """The document read from one file's bytes, or None (with a warning naming the file and
    the reason) when it cannot be used."""
    from qa.readers import Unreadable

    try:
        return read_document(name, data)
    except Unreadable as problem:
        log.warning("skipping %s: %s", name, problem)
        return None


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
        f"No usable documents in {root}: it has no readable .txt, .md, .markdown, .pdf, .docx, "
        ".html or .htm files. Add some, then run qa build, or point QA_CORPUS elsewhere."
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
    folder: Path,
    source: str,
    start: int,
    end: int,
    quote: str | None = None,
    around: int = 1,
    index_dir: Path | None = None,
    kept_name: str | None = None,
) -> Excerpt:
    """The paragraph(s) holding ``[start, end)`` of ``source`` and ``around`` neighbours each side.

    A text file is read from the corpus folder itself, so a reader sees the citation in
    context. For a PDF, Word or web-page file the text kept with the index in ``index_dir`` is
    used (``kept_name``: the version the loaded index names), so the file is not parsed again
    and a citation still shows after the file changed. Raises FileNotFoundError when the file
    is gone and ValueError when it no longer holds ``quote`` at that span (the file changed
    since the index was built: run qa build).
    """
    from qa.readers import keeps_text

    document: Document | None
    if index_dir is not None and keeps_text(source):
        from qa import kept

        document = kept.find(index_dir, source, start, end, quote, kept_name)
        if document is None:
            raise ValueError(f"{source} changed since the index was built; run qa build.")
    else:
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
