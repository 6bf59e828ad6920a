"""Sentence splitting and chunk windows within sections, nothing else."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from qa.documents import Document

Span = tuple[int, int]
_WORD = re.compile(r"\S+")
# A sentence that opens like this leans on the one before it ("This regeneration is slow",
# "In this method, ...", "It ...").
_ANAPHOR = re.compile(
    r"^((it|its|they|their|here)\b|(\w+,?\s+){0,2}?(this|these|that|those|such)\b)", re.I
)


def leans_back(sentence: str) -> bool:
    """Whether a sentence opens by pointing back at the one before it."""
    return bool(_ANAPHOR.match(sentence))


@dataclass(frozen=True)
class Chunk:
    """A window of whole sentences from one section; spans index the document's text."""

    source: str
    title: str
    section: str
    start: int
    end: int
    text: str
    sentences: tuple[Span, ...]

    def embed_text(self) -> str:
        """What is embedded and matched: title and heading give the passage its context."""
        return "\n".join(part for part in (self.title, self.section, self.text) if part)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chunk:
        return cls(**{**data, "sentences": tuple(tuple(s) for s in data["sentences"])})


def split_sentences(text: str, start: int, end: int, max_words: int) -> list[Span]:
    """Sentence spans inside text[start:end]; over-long sentences are cut at word bounds."""
    import blingfire

    piece = text[start:end]
    _, offsets = blingfire.text_to_sentences_and_offsets(piece)
    spans: list[Span] = []
    for first, last in offsets:
        segment = piece[first:last]
        lead = len(segment) - len(segment.lstrip())
        trail = len(segment.rstrip())
        if trail > lead:
            spans.extend(_cut_long(text, start + first + lead, start + first + trail, max_words))
    return spans


def _cut_long(text: str, start: int, end: int, max_words: int) -> list[Span]:
    """Split a span of more than ``max_words`` words into word windows of that size."""
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
    if len(words) <= max_words:
        return [(start, end)]
    return [
        (words[i][0], words[min(i + max_words, len(words)) - 1][1])
        for i in range(0, len(words), max_words)
    ]


def chunk_document(document: Document, max_words: int = 120, overlap: int = 1) -> list[Chunk]:
    """Pack each section's sentences into windows of at most ``max_words`` words.

    Neighbouring windows share ``overlap`` sentences (more when a window would otherwise open
    with a sentence leaning on the one before it), so that an answer spanning a boundary is
    still found whole in one chunk, with its subject. Chunks never cross a section heading.
    """
    text = document.text
    chunks: list[Chunk] = []
    for section in document.sections:
        sentences = [
            span
            for para_start, para_end in section.paragraphs
            for span in split_sentences(text, para_start, para_end, max_words)
        ]
        counts = [len(text[s:e].split()) for s, e in sentences]
        first = 0
        while first < len(sentences):
            last = first + 1
            words = counts[first]
            while last < len(sentences) and words + counts[last] <= max_words:
                words += counts[last]
                last += 1
            window = tuple(sentences[first:last])
            start, end = window[0][0], window[-1][1]
            chunks.append(
                Chunk(
                    document.source,
                    document.title,
                    section.heading,
                    start,
                    end,
                    text[start:end],
                    window,
                )
            )
            if last >= len(sentences):
                break
            following = max(first + 1, last - overlap)
            # A window never opens with a sentence that leans on the one before it ("This
            # technique ..."): it starts at the sentence that says what "this" is.
            while following > first + 1 and leans_back(text[sentences[following][0] :]):
                following -= 1
            first = following
    return chunks
