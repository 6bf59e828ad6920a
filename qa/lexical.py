"""Word-level matching: BM25 over chunk texts, and stem overlap of short strings (titles)."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import numpy as np

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS)


def stem_set(text: str) -> frozenset[str]:
    """Snowball stems of the words of ``text`` that are not stop words."""
    tokens = [w for w in (m.lower() for m in _WORD.findall(text)) if w not in _stopwords()]
    return frozenset(_stemmer().stemWords(tokens))


def coverage(part: frozenset[str], whole: frozenset[str]) -> float:
    """Share of the stems of ``part`` (a title, a heading) that occur in ``whole`` (a question)."""
    return len(part & whole) / len(part) if part else 0.0


class LexicalRanker:
    """BM25 (bm25s, Snowball stems, English stop words) over a fixed list of texts."""

    def __init__(self, texts: list[str]) -> None:
        import bm25s

        self._bm25 = bm25s.BM25()
        self._bm25.index(self._tokenize(texts), show_progress=False)

    @staticmethod
    def _tokenize(texts: list[str]) -> Any:
        import bm25s

        return bm25s.tokenize(
            texts, stopwords="en", stemmer=_stemmer(), show_progress=False, return_ids=False
        )

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for ``query`` (zeros when no query term is known)."""
        tokens = self._tokenize([query])[0]
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
