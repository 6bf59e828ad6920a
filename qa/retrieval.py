"""Ranking chunks for a question: dense (FAISS) and lexical (BM25) scores, fused -> Passages."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from qa.chunking import Span
from qa.embedding import Embedder
from qa.index import Index, sentence_texts

DENSE_WEIGHT = 0.7  # share of the fused score that comes from embedding similarity
CANDIDATES = 50  # chunks taken from each ranker before fusion


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its scores; spans index the source file's decoded text."""

    source: str
    title: str
    section: str
    start: int
    end: int
    text: str
    score: float  # fused rank score (higher is better)
    similarity: float  # cosine similarity of question and passage embeddings
    sentences: tuple[Span, ...]
    chunk_id: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Retriever:
    """Finds the passages of one index that best match a question."""

    def __init__(self, index: Index, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder
        self.lexical = index.lexical
        # The composer embeds passage sentences for every question: serve them from the index.
        embedder.remember(
            str(index.directory), sentence_texts(index.chunks), index.sentence_vectors
        )

    def retrieve(self, query: str, k: int = 10) -> list[Passage]:
        """The ``k`` best passages for ``query``, best first."""
        vector = self.embedder.encode_query(query)
        _, dense_ids = self.index.search(vector, CANDIDATES)
        lexical = self.lexical.scores(query)
        lexical_ids = _top(lexical, CANDIDATES)
        ids = np.unique(np.concatenate([dense_ids, lexical_ids[lexical[lexical_ids] > 0]]))
        similarity = self.index.vectors[ids] @ vector
        top_lexical = float(lexical.max()) if lexical.size else 0.0
        lexical_part = lexical[ids] / top_lexical if top_lexical > 0 else np.zeros(len(ids))
        fused = DENSE_WEIGHT * similarity + (1 - DENSE_WEIGHT) * lexical_part
        order = sorted(range(len(ids)), key=lambda i: (-fused[i], int(ids[i])))[:k]
        return [self._passage(int(ids[i]), float(fused[i]), float(similarity[i])) for i in order]

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


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Ids of the ``k`` highest scores, best first (partial sort: corpora can be large)."""
    if len(scores) > k:
        part = np.argpartition(-scores, k)[:k]
        return part[np.argsort(-scores[part], kind="stable")]
    return np.argsort(-scores, kind="stable")
