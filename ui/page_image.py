"""A PDF page as a picture with the quoted lines highlighted, for the source panel.

The page is rendered by PDFium (pypdfium2); the quote is found among the page's characters by
its letters and digits alone (so line breaks, joined hyphenations and spacing do not matter),
and a translucent box is drawn over each line it covers. The result is a PNG ``data:`` URL:
an image, so nothing from the document can become markup in the page.
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCALE = 1.5  # pixels per PDF point: legible when the panel shows the page ~500 px wide
HIGHLIGHT = (255, 200, 0, 110)  # RGBA of the highlight boxes
OUTLINE = (214, 140, 0, 255)
COLOURS = 64  # a palette PNG: a text page is a few shades, and a third of the bytes of RGB
KEY_CHARS = 80  # a quote not found whole is placed by its first and last this many characters


@dataclass(frozen=True)
class PageImage:
    """A rendered page: ``url`` is a data: URL of a PNG; ``boxes`` how many lines are marked."""

    url: str
    page: int
    pages: int
    boxes: int


def _key(text: str) -> str:
    return "".join(char for char in text.casefold() if char.isalnum())


def render_page(path: Path, page: int, quote: str, sha256: str | None = None) -> PageImage:
    """Page ``page`` (1-based) of the PDF at ``path`` with ``quote`` highlighted.

    Raises ValueError when the file is no longer the one indexed (``sha256`` differs) or has
    no such page; the Unreadable of the PDF reader when it cannot be opened.
    """
    from PIL import Image, ImageDraw

    from qa.readers.pdf import PDFIUM_LOCK, open_pdf

    data = path.read_bytes()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"{path.name} changed since it was indexed; the page is not shown")
    with PDFIUM_LOCK:
        document = open_pdf(data)
        try:
            if not 1 <= page <= len(document):
                raise ValueError(f"{path.name} has no page {page}")
            pdf_page = document[page - 1]
            boxes = _quote_boxes(pdf_page, quote)
            left, bottom, right, top = pdf_page.get_cropbox()
            picture = pdf_page.render(scale=SCALE).to_pil().convert("RGBA")
            count = len(document)
        finally:
            document.close()
    overlay = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for x0, y0, x1, y1 in boxes:
        draw.rectangle(
            [
                (x0 - left) * SCALE - 2,
                (top - y1) * SCALE - 2,
                (x1 - left) * SCALE + 2,
                (top - y0) * SCALE + 2,
            ],
            fill=HIGHLIGHT,
            outline=OUTLINE,
        )
    out = io.BytesIO()
    marked = Image.alpha_composite(picture, overlay).convert("RGB")
    marked.quantize(colors=COLOURS).save(out, "PNG", optimize=True)
    url = "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")
    return PageImage(url, page, count, len(boxes))


def _quote_boxes(pdf_page: Any, quote: str) -> list[tuple[float, float, float, float]]:
    """One box (left, bottom, right, top in PDF points) per line the quote covers."""
    import pypdfium2.raw as raw

    textpage = pdf_page.get_textpage()
    try:
        text = textpage.get_text_range()
        keys: list[str] = []
        where: list[int] = []  # text index of each key character
        for index, char in enumerate(text):
            folded = _key(char)
            keys.extend(folded)
            where.extend([index] * len(folded))
        stream, wanted = "".join(keys), _key(quote)
        if not wanted:
            return []
        first = stream.find(wanted)
        if first >= 0:
            last = first + len(wanted) - 1
        else:  # a quote that runs onto the next page: place it by its ends
            first = stream.find(wanted[:KEY_CHARS])
            tail = stream.rfind(wanted[-KEY_CHARS:])
            if first < 0:
                return []
            last = tail + min(KEY_CHARS, len(wanted)) - 1 if tail >= first else len(stream) - 1
        end = where[last] + 1
        tail = len(quote) - len(quote.rstrip(".,;:!?)]\"'\u2019\u201d"))  # closing marks
        while tail and end < len(text) and not text[end].isalnum() and not text[end].isspace():
            end, tail = end + 1, tail - 1
        lines: list[list[float]] = []
        for text_index in range(where[first], end):
            char = raw.FPDFText_GetCharIndexFromTextIndex(textpage.raw, text_index)
            if char < 0 or text[text_index].isspace():
                continue
            x0, y0, x1, y1 = textpage.get_charbox(char, loose=True)
            if lines and min(lines[-1][3], y1) - max(lines[-1][1], y0) > 0.3 * (y1 - y0):
                box = lines[-1]
                box[0], box[1] = min(box[0], x0), min(box[1], y0)
                box[2], box[3] = max(box[2], x1), max(box[3], y1)
            else:
                lines.append([x0, y0, x1, y1])
        return [(a, b, c, d) for a, b, c, d in lines]
    finally:
        textpage.close()
