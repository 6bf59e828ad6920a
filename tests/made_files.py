"""Documents made for the tests with real tools: PDFs written by reportlab (laid out line by line,
so running headers, hyphenation and page breaks are where a test needs them), a scan made with
Pillow (an image, no text layer), and broken or hostile files of each format."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from qa.config import PROJECT_ROOT

FORMATS = PROJECT_ROOT / "tests" / "fixtures" / "formats"
HEADER = "Clinic Handbook - internal draft"

# (page, font size, text) of each line; None for a paragraph gap. Headings are larger.
HANDBOOK: list[list[tuple[float, str] | None]] = [
    [
        (20, "Nerve Care Handbook"),
        None,
        (14, "Physiotherapy"),
        (11, "After a nerve injury the physiotherapist plans the treat-"),
        (11, "ment together with the patient and a well-"),
        (11, "known exercise plan keeps the muscles moving."),
        None,
        (11, "A well-known rule says that exercise should never hurt. The nerve recovers over"),
    ],
    [
        (11, "several months of steady therapy, one small step at a time."),
        None,
        (14, "Splints"),
        (11, "A resting splint holds the wrist straight at night so that the tendons do"),
        (11, "not shorten while the nerve regrows."),
    ],
    [
        (14, "When to Call the Clinic"),
        (11, "Call the clinic at once when numbness spreads or a wound around the splint"),
        (11, "turns red, swollen or warm."),
    ],
]
BOOKMARKS = [
    (0, "Nerve Care Handbook"),
    (0, "Physiotherapy"),
    (1, "Splints"),
    (2, "When to Call the Clinic"),
]


def handbook_pdf(encrypt: str | None = None) -> bytes:
    """A three-page PDF with a running header, 'Page n of 3' footers, headings in larger
    type, bookmarks, a word hyphenated across lines and a paragraph across a page break."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4, encrypt=encrypt)
    width, height = A4
    for number, lines in enumerate(HANDBOOK):
        pdf.setFont("Helvetica", 8)
        pdf.drawString(72, height - 40, HEADER)
        pdf.drawCentredString(width / 2, 30, f"Page {number + 1} of {len(HANDBOOK)}")
        for page, title in BOOKMARKS:
            if page == number:
                key = f"b{title}"
                pdf.bookmarkPage(key)
                pdf.addOutlineEntry(title, key, level=0 if title == BOOKMARKS[0][1] else 1)
        y = height - 90
        for line in lines:
            if line is None:
                y -= 10
                continue
            size, text = line
            pdf.setFont("Helvetica-Bold" if size > 11 else "Helvetica", size)
            y -= size * 1.3
            pdf.drawString(72, y, text)
            if size > 11:
                y -= 4
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def scanned_pdf() -> bytes:
    """A page that is only a picture of text, as a scanner makes it: no text layer."""
    from PIL import Image, ImageDraw

    page = Image.new("RGB", (850, 1100), "white")
    draw = ImageDraw.Draw(page)
    for row in range(20):
        draw.text((80, 80 + 40 * row), "Scanned text that only OCR could read.", fill="black")
    out = io.BytesIO()
    page.save(out, "PDF", resolution=100)
    return out.getvalue()


def zip_bomb_docx(unpacked: int = 50 * 2**20) -> bytes:
    """A .docx-shaped zip whose document part unpacks to ``unpacked`` bytes of nothing."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("word/document.xml", "w") as member:
            chunk = b" " * 2**20
            for _ in range(unpacked // len(chunk)):
                member.write(chunk)
    return out.getvalue()


def corrupt_docx() -> bytes:
    """A real .docx with its document part damaged (the zip is fine, the XML is not)."""
    source = zipfile.ZipFile(FORMATS / "denervation.docx")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "word/document.xml":
                data = data[: len(data) // 2]
            archive.writestr(item, data)
    return out.getvalue()


def truncated(path: Path) -> bytes:
    """The first half of a file, as an interrupted download leaves it."""
    data = path.read_bytes()
    return data[: len(data) // 2]
