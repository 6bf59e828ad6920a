"""Loading: title, headings, paragraph spans, link lists that are not content."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.chunking import chunk_document
from qa.documents import is_heading, load_corpus, parse_document
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
    doc = parse_document("notes/care.md", "# Kettle Care\n\n## Descaling\nUse vinegar monthly.\n")
    assert doc.title == "Kettle Care"
    assert [s.heading for s in doc.sections] == ["Descaling"]
    untitled = parse_document("my_notes.txt", "This file has only one sentence of text.\n")
    assert untitled.title == "my notes"
    assert untitled.sections[0].heading == ""


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Causes of Denervation", True),
        ("Spinal Muscular Atrophy: What Is the Prevalence?", True),
        ("Denervation stems from several origins.", False),
        ("- a bullet item", False),
        ("lowercase start", False),
    ],
)
def test_heading_rule(line: str, expected: bool) -> None:
    assert is_heading(line) is expected


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
        # neighbours in one section share a sentence (the overlap)
        same = [(a, b) for a, b in zip(chunks, chunks[1:], strict=False) if a.section == b.section]
        assert same and all(a.sentences[-1] == b.sentences[0] for a, b in same)
