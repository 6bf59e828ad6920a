"""PDF, read with pypdfium2 (PDFium): text lines with their font size and place on the page.

What a PDF knows and a text file does not is kept: headings are lines in a larger font than
the body or titles of the document's outline (bookmarks); paragraphs are runs of lines without
a wider gap between them; each page's start in the text is recorded, so a citation names its
page. Lines repeated at the top or bottom of most pages (running headers and footers) and bare
page numbers are not text; a word hyphenated across lines is joined ("treat-" + "ment").
Lines are taken in the order PDFium reads them (the order of the page's content, which is the
reading order for single-column documents and for most producers of columns).

PDFium is not thread-safe: every use in the process holds ``PDFIUM_LOCK``.
"""

from __future__ import annotations

import ctypes
import re
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from qa.documents import Block, Document, assemble
from qa.readers import Unreadable, limits

PDFIUM_LOCK = threading.Lock()
HEADING_SIZE = 1.15  # a line this many times the body font size (or more) is a heading
HEADING_MAX_WORDS = 25
PARAGRAPH_GAP = 0.35  # extra space between lines, in font sizes, that starts a paragraph
MARGIN_BAND = 0.12  # share of the page height at top and bottom where running lines sit
_LINE_BREAK = re.compile(r"[^\r\n]+")
_PAGE_NUMBER = re.compile(
    r"^[\s\-–—(\[]*(page\s+)?(\d{1,5}|[ivxlcdm]{1,7})(\s*(/|of)\s*\d{1,5})?[\s\-–—)\]]*$", re.I
)
_DIGITS = re.compile(r"\d+")
_SENTENCE_END = tuple(".!?:;")
_HYPHENS = ("-", "\u00ad", "\u2010", "\x02", "\ufffe")
# PDFium marks a hyphen at a line end as U+FFFE (or U+0002) and may join the two lines.
_MARKED_HYPHEN = re.compile(r"([^\W_]+)[\ufffe\x02\u00ad]\s*([^\W_]+)")
_WORDS = re.compile(r"[^\W_]+(?:-[^\W_]+)*")


@dataclass(frozen=True)
class Line:
    """One line of text on a page, with what layout says about it (PDF points, y upwards)."""

    page: int  # 0-based
    text: str
    size: float
    top: float
    bottom: float
    page_height: float


def read(name: str, data: bytes) -> Document:
    """The document in a PDF file's bytes; raises Unreadable for files that cannot be used."""
    head = data[:1024]
    if b"%PDF-" not in head:
        raise Unreadable("not a PDF (no %PDF- header)")
    if b"%%EOF" not in data[-2048:]:
        raise Unreadable("truncated or incomplete PDF (no end-of-file marker); copy it again")
    with PDFIUM_LOCK:
        lines, pages, outline = _read_lines(data)
    if not any(line.text.strip() for line in lines):
        raise Unreadable(
            f"no text layer in its {pages} page(s) (a scanned image?); run OCR on it first"
        )
    return _assemble(name, lines, pages, outline)


def open_pdf(data: bytes) -> Any:
    """A pypdfium2 PdfDocument of ``data``; Unreadable for encrypted or damaged files.

    The caller holds PDFIUM_LOCK.
    """
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as error:
        if "password" in str(error).lower():
            raise Unreadable("encrypted PDF: it needs a password to open") from None
        raise Unreadable(f"damaged PDF ({error})") from None


def _read_lines(data: bytes) -> tuple[list[Line], int, list[tuple[int, str]]]:
    """All lines of the document, its page count and its outline as (page, title)."""
    import pypdfium2.raw as raw

    document = open_pdf(data)
    try:
        count = len(document)
        if count > limits.MAX_PAGES:
            raise Unreadable(
                f"{count} pages, more than the limit of {limits.MAX_PAGES} "
                "(qa.readers.limits.MAX_PAGES); split it"
            )
        deadline = time.monotonic() + limits.READ_SECONDS
        outline = _outline(document)
        lines: list[Line] = []
        chars = 0
        for number in range(count):
            if time.monotonic() > deadline:
                raise Unreadable(f"reading took longer than {limits.READ_SECONDS:.0f} s")
            page = document[number]
            textpage = page.get_textpage()
            try:
                text = textpage.get_text_range()
                chars += len(text)
                if chars > limits.MAX_TEXT_CHARS:
                    raise Unreadable(f"more than {limits.MAX_TEXT_CHARS:,} characters of text")
                height = page.get_height()
                lines.extend(_page_lines(raw, textpage.raw, text, number, height))
            finally:
                textpage.close()
                page.close()
        return lines, count, outline
    finally:
        document.close()


def _outline(document: Any) -> list[tuple[int, str]]:
    """(0-based page, title) of each bookmark that points at a page."""
    found = []
    try:
        for bookmark in document.get_toc(max_depth=6):
            destination = bookmark.get_dest()
            index = destination.get_index() if destination is not None else None
            title = bookmark.get_title().strip()
            if index is not None and title:
                found.append((index, title))
            if len(found) >= 10_000:
                break
    except Exception:  # a damaged outline is no reason to skip the text
        return []
    return found


def _page_lines(raw: Any, textpage: Any, text: str, page: int, height: float) -> list[Line]:
    """The lines of one page's text, each with its font size and vertical extent."""
    left, top, right, bottom = (ctypes.c_double() for _ in range(4))
    lines = []
    for match in _LINE_BREAK.finditer(text):
        content = match.group().rstrip()
        stripped = content.lstrip()
        if not stripped:
            continue
        first = match.start() + len(content) - len(stripped)
        begin = raw.FPDFText_GetCharIndexFromTextIndex(textpage, first)
        end = raw.FPDFText_GetCharIndexFromTextIndex(textpage, match.start() + len(content) - 1)
        if begin < 0 or end < begin:
            continue
        tops, bottoms = [], []
        for k in range(min(raw.FPDFText_CountRects(textpage, begin, end - begin + 1), 50)):
            if raw.FPDFText_GetRect(textpage, k, left, top, right, bottom):
                tops.append(top.value)
                bottoms.append(bottom.value)
        if not tops:
            continue
        size = raw.FPDFText_GetFontSize(textpage, begin)
        lines.append(Line(page, stripped, round(size, 1), max(tops), min(bottoms), height))
    return lines


def _running_key(text: str) -> str:
    return _DIGITS.sub("#", " ".join(text.lower().split()))


def _drop_running_lines(lines: list[Line], pages: int) -> list[Line]:
    """Lines without running headers, footers and bare page numbers.

    A line in the top or bottom band of its page is running text when it is a bare page number,
    or when the same line (digits aside) stands in that band on at least half of the pages
    (and on two or more).
    """

    def in_band(line: Line) -> bool:
        band = MARGIN_BAND * line.page_height
        return line.top >= line.page_height - band or line.bottom <= band

    banded = [line for line in lines if in_band(line)]
    seen: Counter[str] = Counter()
    for key, _ in {(_running_key(line.text), line.page) for line in banded}:
        seen[key] += 1
    repeated = {key for key, n in seen.items() if n >= 2 and n >= pages / 2}
    return [
        line
        for line in lines
        if not (
            in_band(line) and (_PAGE_NUMBER.match(line.text) or _running_key(line.text) in repeated)
        )
    ]


def _alnum(text: str) -> str:
    return "".join(char for char in text.lower() if char.isalnum())


def _heading_lines(lines: list[Line], outline: list[tuple[int, str]], body: float) -> set[int]:
    """Indexes of lines that are (part of) headings: a larger font, or an outline title."""
    marked = set()
    for i, line in enumerate(lines):
        words = len(line.text.split())
        if line.size >= HEADING_SIZE * body and words <= HEADING_MAX_WORDS:
            if not line.text.endswith((".", ",")) or words <= 3:
                marked.add(i)
    by_page: dict[int, list[str]] = {}
    for page, title in outline:
        by_page.setdefault(page, []).append(_alnum(title))
    for i, line in enumerate(lines):
        titles = by_page.get(line.page)
        if not titles or i in marked:
            continue
        key = _alnum(line.text)
        # A title may wrap: this line and the next one(s) together spell a bookmark title.
        for title in titles:
            if key and title.startswith(key) and len(line.text.split()) <= HEADING_MAX_WORDS:
                joined, j = key, i
                while joined != title and j + 1 < len(lines) and len(joined) < len(title):
                    j += 1
                    joined += _alnum(lines[j].text)
                if joined == title:
                    marked.update(range(i, j + 1))
                    break
    return marked


def _keeps_hyphen(first: str, second: str, words: set[str]) -> bool:
    """Whether 'first-' at a line end and 'second' on the next line are one hyphenated word
    ('well-known', 'African-American', '12-day') rather than a word split to fit the line
    ('treat-ment'). The document's own spelling decides when it has one (``words``: its
    words in lower case, hyphenated ones whole); else a capital or digit keeps the hyphen."""
    if f"{first}-{second}".lower() in words:
        return True
    if f"{first}{second}".lower() in words:
        return False
    return not second[:1].islower() or first[-1:].isdigit()


def _dehyphenate(text: str, words: set[str]) -> str:
    """Words PDFium marked as hyphenated at a line end (U+FFFE), resolved within the line."""

    def resolve(match: re.Match[str]) -> str:
        first, second = match.group(1), match.group(2)
        return f"{first}-{second}" if _keeps_hyphen(first, second, words) else first + second

    return _MARKED_HYPHEN.sub(resolve, text).replace("\ufffe", "-").replace("\x02", "-")


def _join(previous: str, following: str, words: set[str]) -> str:
    """Two lines of one paragraph as one text: a word hyphenated across them is joined
    ('treat-' + 'ment'), a hyphenated word keeps its hyphen ('well-' + 'known')."""
    if len(previous) > 1 and previous.endswith(_HYPHENS) and previous[-2].isalnum():
        head, before, after = previous[:-1], previous[:-1].split(), following.split()
        if before and after:
            first = re.sub(r"^\W+", "", before[-1])
            second = re.sub(r"\W+$", "", after[0])
            if not _keeps_hyphen(first, second, words):
                return head + following
        return f"{head}-{following}"
    return f"{previous} {following}"


def _assemble(name: str, lines: list[Line], pages: int, outline: list[tuple[int, str]]) -> Document:
    """Text, blocks and page starts from the document's lines."""
    lines = _drop_running_lines(lines, pages)
    if not lines:
        raise Unreadable("no text besides running headers and page numbers")
    sizes: Counter[float] = Counter()
    for line in lines:
        sizes[line.size] += len(line.text)
    body = sizes.most_common(1)[0][0] or 1.0
    headings = _heading_lines(lines, outline, body)
    pitches = [
        b.top - a.top
        for a, b in zip(lines, lines[1:], strict=False)
        if a.page == b.page and a.size == b.size == body and 0 < a.top - b.top < 3 * body
    ]
    pitch = statistics.median([-p for p in pitches]) if pitches else 1.2 * body
    words = {word.lower() for line in lines for word in _WORDS.findall(line.text)}
    lines = [replace(line, text=_dehyphenate(line.text, words)) for line in lines]

    # Group lines into blocks: (heading?, [lines]).
    groups: list[tuple[bool, list[Line]]] = []
    for i, line in enumerate(lines):
        is_heading = i in headings
        if groups:
            kind, members = groups[-1]
            last = members[-1]
            if is_heading and kind and last.page == line.page and line.size == last.size:
                if last.bottom - line.top < pitch:  # a heading that wraps onto a second line
                    members.append(line)
                    continue
            if not is_heading and not kind:
                same_page = last.page == line.page
                gap = last.top - line.top
                if same_page and 0 < gap <= pitch + PARAGRAPH_GAP * body:
                    members.append(line)
                    continue
                carries_on = not last.text.endswith(_SENTENCE_END) and line.text[:1].islower()
                if not same_page and carries_on:
                    members.append(line)  # a paragraph that carries on over the page break
                    continue
        groups.append((is_heading, [line]))

    parts: list[str] = []
    blocks: list[Block] = []
    page_starts: dict[int, int] = {}
    offset = 0
    for kind, members in groups:
        if parts:
            offset += 2  # the blank line between blocks
        start = offset
        text = ""
        for line in members:
            text = _join(text, line.text, words) if text else line.text
            page_starts.setdefault(line.page, start + len(text) - len(line.text))
        parts.append(text)
        offset = start + len(text)
        blocks.append((start, offset, " ".join(text.split()) if kind else None))
    full = "\n\n".join(parts)
    starts = [len(full)] * pages  # a page without text starts where the next one with text does
    for number in range(pages - 1, -1, -1):
        following = starts[number + 1] if number + 1 < pages else len(full)
        starts[number] = page_starts.get(number, following)
    return assemble(name, full, blocks, pages=tuple(starts))
