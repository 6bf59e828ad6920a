"""PDF, Word and web pages as people have them: the seed articles converted by real tools
(tests/fixtures/formats, made by tests/fixtures/make_formats.py with pandoc and LibreOffice)
answer the seed questions like the text files, with checkable citations and right pages;
PDFs shipped with Debian packages read without errors; bad files of each kind are skipped
with a warning that names the file and the reason."""

from __future__ import annotations

import gzip
import logging
import os
import shutil
from pathlib import Path

import pytest

from qa import canned, kept
from qa.chat import Chatbot
from qa.cli import main
from qa.config import PROJECT_ROOT, Settings
from qa.documents import excerpt, load_corpus, read_document
from qa.readers import Unreadable, limits
from tests.conftest import CANNED, ask_one_file
from tests.made_files import (
    FORMATS,
    HEADER,
    corrupt_docx,
    handbook_pdf,
    scanned_pdf,
    truncated,
    zip_bomb_docx,
)

SEED_DOCS = ("denervation", "neurolysis")
NERVES = "Nerve Repair\n\nHealing\n\nA crushed nerve regrows slowly, about one millimetre a day.\n"


def _folder(tmp_path: Path, suffix: str) -> Path:
    folder = tmp_path / suffix
    folder.mkdir()
    for name in SEED_DOCS:
        shutil.copy(FORMATS / f"{name}.{suffix}", folder)
    return folder


@pytest.fixture(scope="module", params=["pdf", "docx", "html"])
def format_bot(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Chatbot:
    """A Chatbot over the two seed articles converted to one format."""
    base = tmp_path_factory.mktemp(request.param)
    corpus = _folder(base, request.param)
    settings = Settings().with_overrides(corpus_dir=corpus, index_dir=base / "index")
    return Chatbot.from_corpus(settings=settings)


def _pdf_page_text(path: Path, page: int) -> str:
    import pypdfium2 as pdfium

    from qa.readers.pdf import PDFIUM_LOCK

    with PDFIUM_LOCK:
        document = pdfium.PdfDocument(path)
        try:
            return str(document[page - 1].get_textpage().get_text_range())
        finally:
            document.close()


def _letters(text: str) -> str:
    return "".join(char for char in text.casefold() if char.isalnum())


def test_seed_questions_pass_in_each_format_with_checkable_citations(format_bot: Chatbot) -> None:
    suffix = format_bot.settings.corpus_dir.name
    cases = canned.load_cases(CANNED / "seed_questions.yaml")
    outcomes = canned.run_cases(format_bot, cases)
    failed = [o for o in outcomes if not o.passed]
    assert not failed, canned.report(failed)
    manifest = format_bot.retriever.index.manifest
    index_dir = format_bot.retriever.index.directory
    cited = 0
    for outcome in outcomes:
        for c in (outcome.answer or {}).get("citations", []):
            cited += 1
            assert c["source"].endswith(f".{suffix}")
            entry = manifest["files"][c["source"]]
            document = kept.load(index_dir, entry["kept"])
            assert document is not None
            assert document.text[c["start"] : c["end"]] == c["quote"]  # the quote is checkable
            if suffix != "pdf":
                assert c["page"] is None
                continue
            # the page is right: the quote's text (its part on that page) stands on it in the PDF
            assert c["page"] == document.page_at(c["start"])
            pages = document.pages
            stop = pages[c["page"]] if c["page"] < len(pages) else c["end"]
            on_page = c["quote"][: stop - c["start"]]
            page_text = _pdf_page_text(format_bot.settings.corpus_dir / c["source"], c["page"])
            assert _letters(on_page) in _letters(page_text)
    assert cited >= 20


def test_pdf_pages_are_named_in_sources_and_cli(
    format_bot: Chatbot, capsys: pytest.CaptureFixture[str]
) -> None:
    suffix = format_bot.settings.corpus_dir.name
    answer = format_bot.fork().ask("How fast do damaged nerves regrow?")
    citation = answer.citations[0]
    assert "one inch per month" in citation.quote
    if suffix == "pdf":
        assert citation.page == 3  # "Diagnosis and Recovery Pathways" is on the third page
        assert f"denervation.pdf, p. 3, characters {citation.start}-" in answer.formatted()
    else:
        assert citation.page is None and ", p. " not in answer.formatted()
    settings = format_bot.settings
    status = main(
        [
            "ask",
            "What is cryoneurolysis?",
            "--corpus",
            str(settings.corpus_dir),
            "--index",
            str(settings.index_dir),
        ]
    )
    out = capsys.readouterr().out
    assert status == 0 and f"neurolysis.{suffix}" in out
    assert (", p. 1, characters" in out) == (suffix == "pdf")


def test_structure_of_each_format_is_kept() -> None:
    for suffix in ("pdf", "docx", "html"):
        document = read_document(
            f"denervation.{suffix}", (FORMATS / f"denervation.{suffix}").read_bytes()
        )
        assert document.title == "Denervation: Causes, Consequences, and Treatments"
        assert [s.heading for s in document.sections] == [
            "",
            "Causes of Denervation",
            "Physiological Consequences",
            "Therapeutic Denervation Procedures",
            "Diagnosis and Recovery Pathways",
        ]
        seed = (PROJECT_ROOT / "corpus" / "denervation.txt").read_text(encoding="utf-8")
        paragraphs = [seed[a:b] for s in document.sections for a, b in s.paragraphs]
        for paragraph in (document.text[a:b] for s in document.sections for a, b in s.paragraphs):
            assert " ".join(paragraph.split()) in " ".join(seed.split())
        assert len(paragraphs) == 15
        assert "qa-docs test corpus" not in document.text  # the running header
        assert (len(document.pages) == 3) == (suffix == "pdf")


def test_pdf_layout_headers_footers_hyphens_and_page_breaks() -> None:
    document = read_document("handbook.pdf", handbook_pdf())
    assert document.title == "Nerve Care Handbook"
    assert [s.heading for s in document.sections] == [
        "Physiotherapy",
        "Splints",
        "When to Call the Clinic",
    ]
    text = document.text
    assert HEADER not in text and "Page 1" not in text and "of 3" not in text
    assert "plans the treatment together" in text  # "treat-" + "ment" joined
    assert "a well-known exercise plan" in text  # a real compound keeps its hyphen
    # a paragraph that runs over the page break is one paragraph; page 2 starts inside it
    paragraph = "The nerve recovers over several months of steady therapy"
    assert paragraph in text
    assert document.page_at(text.index("The nerve recovers")) == 1
    assert document.page_at(text.index("several months")) == 2
    assert document.page_at(text.index("A resting splint")) == 2
    assert document.page_at(text.index("Call the clinic at once")) == 3


def _third_party_pdfs() -> list[Path]:
    docs = Path("/usr/share/doc")
    return sorted(docs.glob("**/*.pdf")) + sorted(docs.glob("**/*.pdf.gz"))


def test_pdfs_shipped_with_debian_packages_are_read() -> None:
    found = _third_party_pdfs()
    if not found:
        message = "no PDF under /usr/share/doc: apt-get install bzip2-doc (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    for path in found:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        if len(data) > 20 * 2**20:
            continue
        document = read_document(path.name.removesuffix(".gz"), data)
        assert document.pages and len(document.text) > 1000, path
        assert all(0 <= a <= b for a, b in zip(document.pages, document.pages[1:], strict=False))


BAD_FILES = {
    "locked.pdf": (lambda: handbook_pdf(encrypt="secret"), "encrypted PDF: it needs a password"),
    "scan.pdf": (scanned_pdf, "no text layer in its 1 page(s) (a scanned image?)"),
    "cut.pdf": (lambda: truncated(FORMATS / "denervation.pdf"), "truncated or incomplete PDF"),
    "fake.pdf": (lambda: b"<html>not a pdf</html>", "not a PDF"),
    "broken.docx": (corrupt_docx, "damaged Word file (XMLSyntaxError"),
    "cut.docx": (lambda: truncated(FORMATS / "denervation.docx"), "damaged Word file, not a"),
    "bomb.docx": (zip_bomb_docx, "word/document.xml is compressed"),
    "empty.html": (lambda: b"<html><body><script>var a = 1;</script></body></html>", "empty"),
    "deep.html": (lambda: b"<div>" * 5000 + b"<p>Deep.</p>", "elements nested 5,000 deep"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_files_are_skipped_with_a_warning_naming_file_and_reason(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str
) -> None:
    make, reason = BAD_FILES[name]
    (tmp_path / name).write_bytes(make())
    (tmp_path / "good.txt").write_text(NERVES, encoding="utf-8")
    with caplog.at_level("WARNING", logger="qa"):
        documents = load_corpus(tmp_path)
    assert [d.source for d in documents] == ["good.txt"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert any(w.startswith(f"skipping {name}: {reason}") for w in warnings), warnings


def test_limits_refuse_huge_files_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_PAGES", 2)
    with pytest.raises(Unreadable, match="3 pages, more than the limit of 2"):
        read_document("denervation.pdf", (FORMATS / "denervation.pdf").read_bytes())
    monkeypatch.setattr(limits, "MAX_UNZIPPED_BYTES", 2**20)
    with pytest.raises(Unreadable, match="would unpack to 50 MB, more than the 1 MB limit"):
        read_document("bomb.docx", zip_bomb_docx())


def test_a_build_over_bad_files_indexes_the_rest_and_notes_why(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    for name, (make, _) in BAD_FILES.items():
        (corpus / name).write_bytes(make())
    shutil.copy(FORMATS / "neurolysis.pdf", corpus)
    settings = Settings().with_overrides(corpus_dir=corpus, index_dir=tmp_path / "index")
    bot = Chatbot.from_corpus(settings=settings)
    files = bot.retriever.index.manifest["files"]
    assert {c.source for c in bot.retriever.index.chunks} == {"neurolysis.pdf"}
    for name, (_, reason) in BAD_FILES.items():
        assert files[name]["skipped"].startswith(reason), name
    answer = bot.ask("What is cryoneurolysis?")
    assert "extreme cold" in answer.text and answer.citations[0].source == "neurolysis.pdf"


def test_web_page_text_leaves_out_scripts_styles_and_navigation() -> None:
    page = (
        b"<!doctype html><html><head><title>Clinic</title><style>p { color: red }</style>"
        b"<script>document.write('injected')</script></head><body>"
        b"<nav><a href='/'>Home</a> | <a href='/about'>About us</a></nav>"
        b"<div class='cookie-banner'>We use cookies to improve your experience.</div>"
        b"<main><h1>Opening Hours</h1><p>The clinic opens at <b>eight</b> on weekdays.</p>"
        b"<p hidden>Secret draft text.</p><table><tr><th>Day</th><th>Hours</th></tr>"
        b"<tr><td>Saturday</td><td>9-12</td></tr></table>"
        b"<h2>Parking</h2><ul><li>Free parking behind the building.</li></ul></main>"
        b"<footer>Copyright 2024</footer><noscript>Enable JavaScript</noscript></body></html>"
    )
    document = read_document("clinic.html", page)
    assert document.title == "Opening Hours"
    assert [s.heading for s in document.sections] == ["", "Parking"]
    text = document.text
    assert "The clinic opens at eight on weekdays." in text and "Saturday | 9-12" in text
    for absent in ("color", "injected", "Home", "cookies", "Secret", "Copyright", "JavaScript"):
        assert absent not in text, absent


def test_documentation_pages_with_several_h1_and_permalinks() -> None:
    page = (
        "<html><head><title>Kettle Policy 1.0 documentation</title></head><body>"
        "<h1>Abstract<a class='headerlink' href='#abstract' title='Permalink'>¶</a></h1>"
        "<p>This policy says how kettles are descaled.<sup><a href='#fn1'>1</a></sup></p>"
        "<h1>Descaling<a class='headerlink' href='#descaling'>¶</a></h1>"
        "<p>Use citric acid once a month.<a href='#ref1' class='footnote-back'>↩</a></p>"
        "<p>See <a href='#abstract'>the abstract</a>.</p></body></html>"
    ).encode()
    document = read_document("policy.html", page)
    assert document.title == "Kettle Policy 1.0 documentation"
    assert [s.heading for s in document.sections] == ["Abstract", "Descaling"]
    text = document.text
    assert "¶" not in text and "↩" not in text
    # links with words or numbers in them stay text
    assert "descaled.1" in text and "See the abstract." in text


def test_kept_text_serves_citations_after_the_file_changes(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    shutil.copy(FORMATS / "denervation.pdf", corpus / "article.pdf")
    shutil.copy(FORMATS / "neurolysis.docx", corpus)
    settings = Settings().with_overrides(corpus_dir=corpus, index_dir=tmp_path / "index")
    bot = Chatbot.from_corpus(settings=settings)
    answer = bot.ask("How fast do damaged nerves regrow?")
    c = answer.citations[0]
    assert c.source == "article.pdf" and c.page == 3
    index = bot.retriever.index

    def context() -> str:
        entry = bot.retriever.index.manifest["files"].get(c.source, {})
        return excerpt(
            corpus,
            c.source,
            c.start,
            c.end,
            c.quote,
            index_dir=index.directory,
            kept_name=entry.get("kept"),
        ).text

    assert c.quote in context()
    (corpus / "article.pdf").write_bytes(b"%PDF-1.4 damaged")  # unreadable now
    assert c.quote in context()  # shown from the kept text, no parsing
    bot.live.refresh()  # the damaged file is re-read (and skipped); the old text is kept
    assert "skipped" in bot.retriever.index.manifest["files"]["article.pdf"]
    assert c.quote in context()
    with pytest.raises(ValueError, match="changed since the index was built"):
        excerpt(corpus, c.source, c.start, c.end, "not the quote", index_dir=index.directory)


@pytest.mark.parametrize(
    ("previous", "following", "joined"),
    [
        ("plans the treat-", "ment together", "plans the treatment together"),
        ("among African-", "Americans", "among African-Americans"),
        ("after 12-", "day courses", "after 12-day courses"),
        ("a long-", "term plan", "a long-term plan"),  # written 'long-term' elsewhere
        ("the pre-", "treated cloth", "the pretreated cloth"),  # written 'pretreated' elsewhere
        ("the end.", "Next", "the end. Next"),
    ],
)
def test_words_broken_over_lines(previous: str, following: str, joined: str) -> None:
    from qa.readers.pdf import _join

    assert _join(previous, following, {"long-term", "pretreated"}) == joined


def test_a_lead_that_introduces_a_list_is_quoted_with_its_items(tmp_path: Path) -> None:
    """In Markdown the items of a list are lines of their own after the sentence that
    introduces them: the answer quotes that sentence and the items as one span, and stops
    where the list ends."""
    text = (
        "# Kettle Care\n\n## Warranty\n\n"
        "The warranty covers these parts of the kettle:\n\n"
        "* the heating element\n* the lid hinge\n* the power base\n\n"
        "Repairs outside the warranty are charged at cost.\n"
    )
    answer = ask_one_file(tmp_path, "kettle.md", text, "Which parts does the warranty cover?")
    assert [c.quote for c in answer.citations] == [
        "The warranty covers these parts of the kettle:\n\n"
        "* the heating element\n* the lid hinge\n* the power base"
    ]
    assert answer.text == (
        "The warranty covers these parts of the kettle: * the heating element * the lid hinge"
        " * the power base [1]"
    )
