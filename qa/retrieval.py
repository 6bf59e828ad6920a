"""Ranking chunks for a question: dense (FAISS) and lexical (BM25) scores, fused -> Passages."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from qa.chunking import Span
from qa.embedding import Embedder
from qa.index import Index

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


class LexicalRanker:
    """BM25 over the same texts that are embedded (title, heading and passage)."""

    def __init__(self, texts: list[str]) -> None:
        import bm25s
        import Stemmer

        self._stemmer = Stemmer.Stemmer("english")
        self._bm25 = bm25s.BM25()
        self._bm25.index(self._tokenize(texts), show_progress=False)

    def _tokenize(self, texts: list[str]) -> Any:
        import bm25s

        return bm25s.tokenize(
            texts, stopwords="en", stemmer=self._stemmer, show_progress=False, return_ids=False
        )

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for ``query`` (zeros when no query term is known)."""
        tokens = self._tokenize([query])[0]
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)


class Retriever:
    """Finds the passages of one index that best match a question."""

    def __init__(self, index: Index, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder
        self.lexical = LexicalRanker([chunk.embed_text() for chunk in index.chunks])

    def retrieve(self, query: str, k: int = 10) -> list[Passage]:
        """The ``k`` best passages for ``query``, best first."""
        vector = self.embedder.encode_query(query)
        _, dense_ids = self.index.search(vector, CANDIDATES)
        lexical = self.lexical.scores(query)
        lexical_ids = np.argsort(-lexical)[:CANDIDATES]
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
