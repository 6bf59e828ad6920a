"""Markdown, parsed with markdown-it-py: headings (ATX and setext) and blocks as the parser
sees them, so ``#`` inside code, tables and lists are what they are.

Each paragraph, list item, quote, table or code block is one paragraph span of the raw text
(markup included: a citation quotes the file as written), a fenced code block without its
fence lines. YAML front matter is skipped.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from qa.documents import Block, Document, assemble
from qa.readers.encoding import decode

_LINE_BREAK = re.compile(r"\r\n?|\n")  # as markdown-it splits lines
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n.*?\r?\n(---|\.\.\.)[ \t]*(\r?\n|\Z)", re.S)
# Blocks that are content; a list contributes one paragraph per item.
_CONTENT = {
    "paragraph_open",
    "blockquote_open",
    "table_open",
    "fence",
    "code_block",
    "html_block",
}


def _inside_fences(token: Any, body: str, line_starts: list[int]) -> tuple[int, int]:
    """The lines of a fenced code block between its fences (the closing one may be missing
    at the end of the file): the code is quoted, not the ``` lines around it."""
    first, last = token.map
    closing = body[line_starts[last - 1] : line_starts[last]].strip()
    closed = last - 1 > first and closing.startswith(token.markup)
    return first + 1, last - 1 if closed else last


@lru_cache(maxsize=1)
def _parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable("table")


def read(name: str, data: bytes) -> Document:
    """The document in a Markdown file's bytes."""
    return parse(name, decode(data, name))


def parse(source: str, text: str) -> Document:
    """Title, sections and paragraph spans of decoded Markdown."""
    front = _FRONT_MATTER.match(text)
    skipped = front.end() if front else 0
    # Blank out front matter but keep its line breaks, so line numbers stay those of the file.
    body = re.sub(r"[^\r\n]", " ", text[:skipped]) + text[skipped:]
    line_starts = [0] + [m.end() for m in _LINE_BREAK.finditer(body)]
    line_starts.append(len(body))

    def span(first_line: int, last_line: int) -> tuple[int, int] | None:
        start, end = line_starts[first_line], line_starts[min(last_line, len(line_starts) - 1)]
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        return (start, end) if end > start else None

    tokens = _parser().parse(body)
    blocks: list[Block] = []
    for position, token in enumerate(tokens):
        if token.map is None:
            continue
        if token.type == "heading_open" and token.level == 0:
            inline = tokens[position + 1]
            heading = "".join(
                child.content for child in inline.children or [] if child.type != "softbreak"
            ).strip()
            where = span(*token.map)
            if where and heading:
                blocks.append((*where, heading))
        elif (token.type in _CONTENT and token.level == 0) or (
            token.type == "list_item_open" and token.level == 1
        ):
            fenced = token.type == "fence"
            where = span(*(_inside_fences(token, body, line_starts) if fenced else token.map))
            if where:
                blocks.append((*where, None))
    return assemble(source, text, blocks)
