"""Loading: title, headings, paragraph spans, link lists that are not content."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.chunking import chunk_document, leans_back
from qa.documents import load_corpus
from qa.readers import markdown, plain
from tests.conftest import SEED_CORPUS


def test_seed_documents_have_titles_and_sections() -> None:
    docs = {d.source: d for d in load_corpus(SEED_CORPUS)}
    assert set(docs) == {"denervation.txt", "neurolysis.txt"}
    den = docs["denervation.txt"]
    assert den.title == "Denervation: Causes, Consequences, and Treatments"
    assert [s.heading for s in den.sections] == [
        "",
        "Causes of Denervation",
        "Physiological Consequences",
        "Therapeutic Denervation Procedures",
        "Diagnosis and Recovery Pathways",
    ]
    assert docs["neurolysis.txt"].title == "What Is Neurolysis and How Is the Procedure Performed?"


def test_paragraph_spans_are_exact() -> None:
    for doc in load_corpus(SEED_CORPUS):
        raw = (SEED_CORPUS / doc.source).read_text(encoding="utf-8")
        assert doc.text == raw
        for section in doc.sections:
            for start, end in section.paragraphs:
                paragraph = doc.text[start:end]
                assert paragraph == paragraph.strip() and "\n\n" not in paragraph


def test_trailing_link_list_is_not_content() -> None:
    den = next(d for d in load_corpus(SEED_CORPUS) if d.source == "denervation.txt")
    covered = " ".join(den.text[s:e] for sec in den.sections for s, e in sec.paragraphs)
    headings = " ".join(sec.heading for sec in den.sections)
    for title in ("Norovirus", "Spinal Muscular Atrophy", "Ceftizoxime"):
        assert title not in covered and title not in headings
    chunks = chunk_document(den)
    assert not any("Norovirus" in c.text or "Ceftizoxime" in c.text for c in chunks)


def test_markdown_headings_and_filename_title(tmp_path: Path) -> None:
    doc = markdown.parse("notes/care.md", "# Kettle Care\n\n## Descaling\nUse vinegar monthly.\n")
    assert doc.title == "Kettle Care"
    assert [s.heading for s in doc.sections] == ["Descaling"]
    untitled = plain.parse("my_notes.txt", "This file has only one sentence of text.\n")
    assert untitled.title == "my notes"
    assert untitled.sections[0].heading == ""


def test_markdown_is_parsed_not_guessed() -> None:
    text = (
        "---\ntitle: front matter\n---\n"
        "Intro with **bold** text.\n\n"
        "Setext Heading\n--------------\n\n"
        "- first item\n- second item\n  carried on\n\n"
        "```\n# a comment in code, not a heading\n```\n"
    )
    doc = markdown.parse("guide.md", text)
    assert doc.title == "guide"  # front matter is skipped, and the first block is text
    assert [s.heading for s in doc.sections] == ["", "Setext Heading"]
    paragraphs = [doc.text[a:b] for s in doc.sections for a, b in s.paragraphs]
    assert paragraphs == [
        "Intro with **bold** text.",
        "- first item",
        "- second item\n  carried on",
        "# a comment in code, not a heading",  # the code, without its fences
    ]


ARTICLE = """A Study of Coughs in Adults

https://example.org/articles/123

SHA: edfe02a438fa9b667313da8f03614303fc2a4a14

Authors: Doe, Jane; Roe, Richard
Date: 2018-02-02
DOI: 10.1111/irv.12538
License: cc-by

Abstract: Coughs were common.

Text: Most adults coughed in winter.

There was season-to-season variability in the leading causes of

The findings of our study show that coughs matter.
"""


def test_article_metadata_and_cut_off_lines_are_not_headings() -> None:
    doc = plain.parse("cough.txt", ARTICLE)
    assert doc.title == "A Study of Coughs in Adults"
    assert [s.heading for s in doc.sections] == [""]  # one section: the article has no headings
    paragraphs = [doc.text[a:b] for s in doc.sections for a, b in s.paragraphs]
    assert "SHA: edfe02a438fa9b667313da8f03614303fc2a4a14" in paragraphs
    assert "There was season-to-season variability in the leading causes of" in paragraphs


@pytest.mark.parametrize(
    ("line", "after", "expected"),
    [
        ("Causes of Denervation", "", True),
        ("Spinal Muscular Atrophy: What Is the Prevalence?", "", True),
        ("Optimization of the ELISA-array assay", "The spotted array layout.", True),
        ("Denervation stems from several origins.", "", False),
        ("- a bullet item", "", False),
        ("lowercase start", "", False),
        ("SHA: edfe02a438fa9b667313da8f03614303fc2a4a14", "", False),
        ("License: cc-by", "", False),
        ("Original Publication Date: 3/24/2020", "", False),
        ("https://www.ncbi.nlm.nih.gov/pmc/articles/PMC5820427/", "", False),
        ("DOI 10.1111/irv.12538", "", False),
        ("There was season-to-season variability in the leading causes of", "", False),
        ("The Spanish influenza pandemic of 1918", "which caused 50 million deaths.", False),
        ("Jeffery K. Taubenberger and David M. Morens1-", "", False),
    ],
)
def test_heading_rule(line: str, after: str, expected: bool) -> None:
    assert plain.is_heading(line, after) is expected


def test_chunks_are_sentence_windows_inside_sections() -> None:
    for doc in load_corpus(SEED_CORPUS):
        chunks = chunk_document(doc, max_words=60, overlap=1)
        assert chunks
        for chunk in chunks:
            assert chunk.text == doc.text[chunk.start : chunk.end]
            assert chunk.sentences[0][0] == chunk.start and chunk.sentences[-1][1] == chunk.end
            assert len(chunk.text.split()) <= 60 or len(chunk.sentences) == 1
            section = next(s for s in doc.sections if s.heading == chunk.section)
            assert (
                section.paragraphs[0][0] <= chunk.start and chunk.end <= section.paragraphs[-1][1]
            )
        # neighbours in one section share at least a sentence (the overlap), and a window opens
        # with a sentence that leans on the one before only when the previous window is that
        # sentence's predecessor alone (stepping back would not move forward)
        same = [(a, b) for a, b in zip(chunks, chunks[1:], strict=False) if a.section == b.section]
        assert same and all(b.sentences[0] in a.sentences for a, b in same)
        for a, b in same:
            opening = doc.text[b.sentences[0][0] : b.sentences[0][1]]
            assert not leans_back(opening) or a.sentences.index(b.sentences[0]) <= 1
