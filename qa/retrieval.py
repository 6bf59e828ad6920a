"""Ranking chunks for a question: dense (FAISS) and lexical (BM25) candidates, reranked.

Stage 1 takes the best chunks of each ranker. Stage 2 scores every candidate with a linear
mix of five features that any corpus of titled, sectioned documents has:
  dense    cosine of question and chunk (title, heading and text are embedded together)
  lexical  BM25 of the same text, divided by the best BM25 score of the question
  title    share of the document title's words that the question names; this is what sends
           text shared by several documents (boilerplate) to the document asked about
  heading  cosine of the question's aspect (the question without its topic, e.g.
           'What are the treatments for') and the section heading ('Treatment')
  heading_words  share of the heading's words that the question uses
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from qa.chunking import Span
from qa.embedding import Embedder
from qa.index import Index, sentence_texts
from qa.lexical import coverage, stem_set

INTRODUCTION = "Overview"  # what text before the first heading is matched as
CANDIDATES = 50  # chunks taken from each ranker before the rerank
FEATURES = ("dense", "lexical", "title", "heading", "heading_words")
# Weights of FEATURES, chosen by grid search for the best MRR@10 on the dev half (1,554
# questions) of the medquad-dev benchmark: `python benchmarks/retrieval.py --tune`. The
# held-out half was not used. Only relative sizes matter: dense is fixed at 1.
WEIGHTS = (1.0, 0.1, 0.4, 2.0, 0.3)

_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its scores; spans index the source file's decoded text."""

    source: str
    title: str
    section: str
    start: int
    end: int
    text: str
    score: float  # rerank score (higher is better)
    similarity: float  # cosine similarity of question and passage embeddings
    sentences: tuple[Span, ...]
    chunk_id: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Candidates:
    """The chunks considered for one query and their FEATURES (one row per chunk)."""

    ids: np.ndarray
    features: np.ndarray


def aspect_of(query: str, topic: frozenset[str]) -> str:
    """The words of ``query`` whose stems are not in ``topic``: what is asked about it."""
    return " ".join(w for w in _WORD.findall(query) if not stem_set(w) & topic)


class Retriever:
    """Finds the passages of one index that best match a question."""

    def __init__(
        self, index: Index, embedder: Embedder, weights: tuple[float, ...] = WEIGHTS
    ) -> None:
        if len(weights) != len(FEATURES):
            raise ValueError(f"weights must give one number for each of {FEATURES}")
        self.index = index
        self.embedder = embedder
        self.weights = np.asarray(weights, dtype=np.float32)
        self.lexical = index.lexical
        # The composer embeds passage sentences for every question: serve them from the index.
        embedder.remember(
            str(index.directory), sentence_texts(index.chunks), index.sentence_vectors
        )
        headings = sorted({chunk.section for chunk in index.chunks})
        heading_row = {heading: row for row, heading in enumerate(headings)}
        self._heading_of = np.array([heading_row[c.section] for c in index.chunks])
        # Text before a document's first heading is its introduction: match it as one.
        self._heading_vectors = embedder.encode([h or INTRODUCTION for h in headings])
        self._heading_stems = [stem_set(heading) for heading in headings]
        self._title_stems = {title: stem_set(title) for title in {c.title for c in index.chunks}}

    def candidates(self, query: str) -> Candidates:
        """Stage 1: the best chunks of the dense and the lexical ranker, with their features."""
        chunks = self.index.chunks
        asked = stem_set(query)
        lexical = self.lexical.scores(query)
        lexical_ids = np.argpartition(-lexical, min(CANDIDATES, len(lexical) - 1))[:CANDIDATES]
        lexical_ids = lexical_ids[lexical[lexical_ids] > 0]
        # The topic is the title the question names best; what remains is its aspect. Both
        # are embedded in one batch, which costs little more than the question alone.
        named = [
            (coverage(self._title_stems[chunks[i].title], asked), lexical[i], i)
            for i in lexical_ids
        ]
        topic = self._title_stems[chunks[max(named)[2]].title] if named else frozenset()
        aspect = aspect_of(query, topic)
        vectors = self.embedder.encode([query, aspect] if aspect else [query])
        _, dense_ids = self.index.search(vectors[0], CANDIDATES)
        ids = np.unique(np.concatenate([dense_ids, lexical_ids]))
        top_lexical = float(lexical.max()) if lexical.size else 0.0
        headings = self._heading_of[ids]
        features = np.zeros((len(ids), len(FEATURES)), dtype=np.float32)
        features[:, 0] = self.index.vectors[ids] @ vectors[0]
        if top_lexical > 0:
            features[:, 1] = lexical[ids] / top_lexical
        features[:, 2] = [coverage(self._title_stems[chunks[i].title], asked) for i in ids]
        if aspect:
            features[:, 3] = self._heading_vectors[headings] @ vectors[1]
        features[:, 4] = [coverage(self._heading_stems[h], asked) for h in headings]
        return Candidates(ids, features)

    def rank(self, candidates: Candidates, k: int) -> list[Passage]:
        """Stage 2: the ``k`` candidates with the best weighted feature sum, best first."""
        scores = candidates.features @ self.weights
        order = np.lexsort((candidates.ids, -scores))[:k]
        return [
            self._passage(
                int(candidates.ids[i]), float(scores[i]), float(candidates.features[i, 0])
            )
            for i in order
        ]

    def retrieve(self, query: str, k: int = 10) -> list[Passage]:
        """The ``k`` best passages for ``query``, best first."""
        return self.rank(self.candidates(query), k)

    def _passage(self, chunk_id: int, score: float, similarity: float) -> Passage:
        chunk = self.index.chunks[chunk_id]
        return Passage(
            source=chunk.source,
            title=chunk.title,
            section=chunk.section,
            start=chunk.start,
            end=chunk.end,
            text=chunk.text,
            score=round(score, 6),
            similarity=round(similarity, 6),
            sentences=chunk.sentences,
            chunk_id=chunk_id,
        )
