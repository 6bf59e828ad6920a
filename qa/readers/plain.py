"""Plain text: paragraphs are blocks between blank lines; headings only where they stand out.

A heading is a short line that stands alone between blank lines and reads like a heading:
it starts with a capital or a digit, does not end like a sentence, and is none of the things
that look short in articles as they come: ``Key: value`` metadata (``SHA: ...``,
``License: cc-by``), a web address, a DOI, or the cut-off start of a paragraph (it ends on a
word such as "of" or "the" or on a hyphen, or the next block carries on in lower case).
Text without any heading is one section; the document still has its title.
"""

from __future__ import annotations

import re

from qa.documents import Block, Document, assemble
from qa.readers.encoding import decode

HEADING_MAX_WORDS = 14
HEADING_MAX_CHARS = 120
TITLE_MAX_CHARS = 300  # article titles run long; a title is still one line

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")
_SENTENCE_END = tuple(".,;:!")
_ADDRESS = re.compile(r"://|^www\.|\S@\S+\.\w|\b10\.\d{4,9}/|^doi\b", re.I)
# 'Key: value' where the key is one to three words: 'SHA: ...', 'Original Publication Date: ...'
_KEY_VALUE = re.compile(r"^([^\W\d_][\w’'.-]*(?: [\w’'.-]+){0,2}):[ \t]+(\S.*)$")
# A line that stops on one of these words was cut off mid-sentence.
_DANGLING = frozenset(
    """a an the and or but nor of to in on at by for from with as into onto than that which
    whose who whom is are was were be been its their his her our your this these those""".split()
)
_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")


def read(name: str, data: bytes) -> Document:
    """The document in a plain-text file's bytes."""
    text = decode(data, name)
    return parse(name, text)


def parse(source: str, text: str) -> Document:
    """Title, sections and paragraph spans of decoded plain text."""
    spans = list(paragraph_spans(text, 0, len(text)))
    blocks: list[Block] = []
    for i, (start, end) in enumerate(spans):
        line = text[start:end]
        after = text[spans[i + 1][0] : spans[i + 1][1]] if i + 1 < len(spans) else ""
        if i == 0 and reads_like_title(line):
            blocks.append((start, end, line))
        elif is_heading(line, after):
            blocks.append((start, end, line))
        else:
            blocks.append((start, end, None))
    return assemble(source, text, blocks)


def paragraph_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the non-blank blocks of ``text[start:end]``, without surrounding whitespace."""
    spans = []
    cursor = start
    for gap in [*_BLANK_LINE.finditer(text, start, end), None]:
        stop = gap.start() if gap else end
        first, last = cursor, stop
        while first < last and text[first].isspace():
            first += 1
        while last > first and text[last - 1].isspace():
            last -= 1
        if last > first:
            spans.append((first, last))
        cursor = gap.end() if gap else end
    return spans


def _is_metadata(line: str) -> bool:
    """``Key: value`` metadata, unless the value reads as a title itself ('X: What Is Y?')."""
    match = _KEY_VALUE.match(line)
    if not match:
        return False
    value = match.group(2)
    if ";" in value or not value[0].isupper():
        return True
    significant = [w for w in _WORD.findall(value) if w.lower() not in _DANGLING]
    capitalised = sum(w[0].isupper() for w in significant)
    return not significant or capitalised < len(significant) / 2


def _single_line(line: str) -> bool:
    return bool(line) and "\n" not in line and "\r" not in line


def reads_like_title(line: str) -> bool:
    """The first block is the title when it is one line that is neither a sentence nor data."""
    first_word = line.split()[0] if line.split() else ""
    return (
        _single_line(line)
        and len(line) <= TITLE_MAX_CHARS
        and (first_word[:1].isdigit() or any(char.isupper() for char in first_word))
        and not line.endswith(tuple(".,;:"))
        and not _ADDRESS.search(line)
        and not _is_metadata(line)
    )


def is_heading(line: str, after: str = "") -> bool:
    """Whether a block (``line``) is a heading, given the block that follows it (``after``)."""
    stripped = line.strip()
    if not _single_line(stripped) or len(stripped) > HEADING_MAX_CHARS:
        return False
    tokens = _WORD.findall(stripped)
    if not tokens or len(stripped.split()) > HEADING_MAX_WORDS:
        return False
    if stripped.endswith(_SENTENCE_END) or not (stripped[0].isupper() or stripped[0].isdigit()):
        return False
    if _ADDRESS.search(stripped) or _is_metadata(stripped):
        return False
    # Cut off: on a word like 'of', on a hyphen that splits a word, or carried on below.
    cut_off = tokens[-1].lower() in _DANGLING or stripped.endswith("-") or after[:1].islower()
    return not cut_off
