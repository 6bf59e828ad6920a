"""Web pages (.html, .htm), parsed with selectolax (the lexbor HTML5 parser): headings h1-h6,
and paragraphs as the page's block elements (p, li, table rows, quotes, ...) show them.

Only the page's own text is read: scripts, styles, templates, forms and hidden elements never,
and navigation, page headers and footers, sidebars and cookie banners are left out when the
page marks them (nav/header/footer/aside elements, ARIA roles, or such class names). When the
page has a <main> or a single <article>, only that is read. The title is the page's one h1,
or its <title> when it has no h1 or several (documentation pages often give each part an h1:
then each is a section). Links within the page whose text is only a mark (the "¶" permalink
after a heading, a footnote's "↩") are navigation, not text. Text is walked without recursion,
so deep nesting is harmless, and markup is never copied into the text.
"""

from __future__ import annotations

import re
from typing import Any

from qa.documents import Block, Document, assemble
from qa.readers import Unreadable, limits
from qa.readers.encoding import decode

SKIP = frozenset(
    """script style noscript template head title meta link iframe object embed svg math canvas
    video audio map form button select textarea input nav header footer aside dialog""".split()
)
HEADINGS = frozenset("h1 h2 h3 h4 h5 h6".split())
BLOCKS = frozenset(
    """p div li dt dd blockquote pre tr caption figcaption section article main ul ol dl
    table thead tbody tfoot address details summary fieldset legend hr br center""".split()
)
_BOILERPLATE = re.compile(
    r"(^|[-_\s])(nav|navbar|menu|breadcrumbs?|sidebar|cookies?|consent|banner|footer|header"
    r"|share|social|advert|ads|comments?|related|skip-link|visually-hidden|sr-only)($|[-_\s])",
    re.I,
)
_ROLES = frozenset("navigation banner contentinfo complementary search dialog alert".split())
# Elements that always need their end tag: how deep they nest bounds the page's depth.
_NESTING = frozenset(
    b"""div span section article main aside nav header footer ul ol dl table blockquote form a
    b i em strong font small big u s sub sup code pre label button select textarea h1 h2 h3 h4
    h5 h6 figure figcaption details summary center fieldset noscript template abbr cite q mark
    time svg g""".split()
)
_TAG = re.compile(rb"<(/?[a-zA-Z][a-zA-Z0-9]*)")
_MARKED = "[hidden],[aria-hidden],[style],[role],[class],[id]"  # elements _hidden looks at
_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([-\w.:]+)""", re.I)
_SPACES = re.compile(r"\s+")


def read(name: str, data: bytes) -> Document:
    """The document in a web page's bytes."""
    from selectolax.lexbor import LexborHTMLParser

    depth = _depth(data)
    if depth > limits.MAX_HTML_DEPTH:
        raise Unreadable(
            f"elements nested {depth:,} deep, more than the limit of {limits.MAX_HTML_DEPTH:,}"
        )
    tree = LexborHTMLParser(_decode(data, name))
    root = _content_root(tree)
    if root is None:
        raise Unreadable("no page body")
    pieces = _pieces(root)
    named = sum(level == 1 for _, level in pieces) == 1 and pieces[0][1] == 1
    if pieces and not named:  # no h1 first, or several: the page's <title> names it
        element = tree.css_first("title")
        title = _clean(element.text()) if element is not None else ""
        if title:
            pieces.insert(0, (title, 1))
    parts: list[str] = []
    blocks: list[Block] = []
    offset = 0
    for text, level in pieces:
        heading = level > 0
        if parts:
            offset += 2
        parts.append(text)
        blocks.append((offset, offset + len(text), text if heading else None))
        offset += len(text)
        if offset > limits.MAX_TEXT_CHARS:
            raise Unreadable(f"more than {limits.MAX_TEXT_CHARS:,} characters of text")
    return assemble(name, "\n\n".join(parts), blocks)


def _depth(data: bytes) -> int:
    """How deep the page's elements that need an end tag nest, counted from the tags."""
    depth = deepest = 0
    for tag in _TAG.findall(data):
        closing = tag.startswith(b"/")
        if tag.lstrip(b"/").lower() not in _NESTING:
            continue
        depth = max(depth - 1, 0) if closing else depth + 1
        deepest = max(deepest, depth)
    return deepest


def _decode(data: bytes, name: str) -> str:
    """The page as text: a <meta charset> declaration first, else as a text file."""
    declared = _CHARSET.search(data[:4096])
    if declared:
        try:
            return data.decode(declared.group(1).decode("ascii"))
        except (LookupError, UnicodeDecodeError):
            pass
    return decode(data, name)


def _content_root(tree: Any) -> Any:
    """<main>, else the only <article>, else <body>."""
    main = tree.css("main, [role=main]")
    if len(main) == 1:
        return main[0]
    articles = tree.css("article")
    if len(articles) == 1:
        return articles[0]
    return tree.body


def _hidden(node: Any) -> bool:
    """An element the page hides or marks as boilerplate by its attributes."""
    attributes = node.attributes
    if "hidden" in attributes or attributes.get("aria-hidden") == "true":
        return True
    style = (attributes.get("style") or "").replace(" ", "").lower()
    if "display:none" in style or "visibility:hidden" in style:
        return True
    if (attributes.get("role") or "").lower() in _ROLES:
        return True
    marks = f"{attributes.get('class') or ''} {attributes.get('id') or ''}"
    return bool(marks.strip()) and bool(_BOILERPLATE.search(marks))


def _only_a_mark(node: Any) -> bool:
    """A link whose text has no letter or digit ('¶', '#', '↩'): a mark to click, not text."""
    return not any(c.isalnum() for c in node.text(deep=True))


def _pieces(root: Any) -> list[tuple[str, int]]:
    """(text, heading level or 0) of each block, in document order, walked without recursion."""
    pieces: list[tuple[str, int]] = []
    buffer: list[str] = []
    preformatted = 0
    # Only elements with such attributes can be hidden: found by lexbor's selector engine,
    # so the walk below looks at tag names alone.
    hidden = {node.mem_id for node in root.css(_MARKED) if _hidden(node)}
    hidden |= {node.mem_id for node in root.css("a[href^='#']") if _only_a_mark(node)}

    def flush(level: int = 0) -> None:
        text = "".join(buffer)
        buffer.clear()
        text = _clean(text) if not preformatted else text.strip("\n")
        if text.strip():
            pieces.append((text, level if len(text.split()) <= 40 else 0))

    # The stack holds (node, leaving): a block element is flushed when entered and when left.
    stack: list[tuple[Any, bool]] = [(root.child, False)] if root.child is not None else []
    chars = 0
    while stack:
        node, leaving = stack.pop()
        if leaving:
            if node.tag == "pre":
                flush()
                preformatted -= 1
            elif node.tag in HEADINGS:
                flush(int(node.tag[1]))
            elif node.tag in BLOCKS:
                flush()
            continue
        if node.next is not None:
            stack.append((node.next, False))
        if node.tag == "-text":
            text = node.text_content or ""
            chars += len(text)
            if chars > limits.MAX_TEXT_CHARS:
                raise Unreadable(f"more than {limits.MAX_TEXT_CHARS:,} characters of text")
            buffer.append(text if preformatted else text.replace("\r", " ").replace("\n", " "))
            continue
        if not node.is_element_node or node.tag in SKIP or node.mem_id in hidden:
            continue
        tag = node.tag
        if tag == "br":
            buffer.append("\n")
            continue
        if tag in HEADINGS or tag in BLOCKS:
            flush()
        if tag in ("td", "th") and buffer:
            buffer.append(" | ")
        if tag == "pre":
            preformatted += 1
        stack.append((node, True))
        if node.child is not None:
            stack.append((node.child, False))
    flush()
    return pieces


def _clean(text: str) -> str:
    """Whitespace collapsed as a browser shows it; line breaks from <br> kept."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return "\n".join(line for line in lines if line)
