"""Word-level matching: BM25 over the indexed texts (bm25s), and stem overlap of short strings.

BM25 is built with the index and stored in it as one blob: tokenising and indexing a large
corpus takes seconds, so it is done at build time, not each time a process loads the index.
"""

from __future__ import annotations

import io
import re
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from qa.text import stemmer

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN_PLUS

    return frozenset(STOPWORDS_EN_PLUS)


def stem_set(text: str) -> frozenset[str]:
    """Snowball stems of the words of ``text`` that are not stop words."""
    tokens = [w for w in (m.lower() for m in _WORD.findall(text)) if w not in _stopwords()]
    return frozenset(stemmer().stemWords(tokens))


def coverage(part: frozenset[str], whole: frozenset[str]) -> float:
    """Share of the stems of ``part`` (a title, a heading) that occur in ``whole`` (a question)."""
    return len(part & whole) / len(part) if part else 0.0


def tokenize(texts: list[str]) -> list[tuple[str, ...]]:
    """Each text as BM25 sees it: stemmed words without stop words (kept for texts that
    recur, such as the sentences of passages found for many questions)."""
    return [_tokens_of(text) for text in texts]


@lru_cache(maxsize=50_000)
def _tokens_of(text: str) -> tuple[str, ...]:
    return tuple(_tokenize([text])[0])


# bm25s.tokenize's own rules (its default token pattern, lower case, its English stop words,
# then the stemmer), applied here directly: for one short text at a time, as answering asks,
# bm25s.tokenize spends most of its time setting up progress bars and stop-word sets
# (tests/test_lexical.py checks the two agree).
_BM25_TOKEN = re.compile(r"(?u)\b\w\w+\b")


@lru_cache(maxsize=1)
def _bm25_stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def _tokenize(texts: list[str]) -> list[list[str]]:
    stop = _bm25_stopwords()
    stem = stemmer().stemWords
    return [stem([w for w in _BM25_TOKEN.findall(t.lower()) if w not in stop]) for t in texts]


class LexicalRanker:
    """BM25 scores of every indexed text for a query."""

    def __init__(self, bm25: Any) -> None:
        self._bm25 = bm25

    @classmethod
    def build(cls, texts: list[str]) -> LexicalRanker:
        """Index ``texts`` (the same texts that are embedded: title, heading and passage)."""
        import bm25s

        bm25 = bm25s.BM25()
        bm25.index(_tokenize(texts), show_progress=False)
        return cls(bm25)

    def to_bytes(self) -> bytes:
        """The index as one .npz blob of bm25s' own saved files."""
        with tempfile.TemporaryDirectory() as folder:
            self._bm25.save(folder, show_progress=False)
            files = {p.name: np.frombuffer(p.read_bytes(), dtype=np.uint8) for p in _files(folder)}
        buffer = io.BytesIO()
        np.savez(buffer, **files)  # type: ignore[arg-type]
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> LexicalRanker:
        """Load an index written by ``to_bytes``."""
        import bm25s

        with np.load(io.BytesIO(blob), allow_pickle=False) as files:
            with tempfile.TemporaryDirectory() as folder:
                for name in files.files:
                    (Path(folder) / name).write_bytes(files[name].tobytes())
                return cls(bm25s.BM25.load(folder, show_progress=False))

    def tokens(self, text: str, indexed: bool = True) -> list[str]:
        """The distinct terms of ``text`` (stemmed, no stop words), in order; with
        ``indexed``, only those some indexed text has."""
        found = dict.fromkeys(_tokenize([text])[0])
        return [t for t in found if not indexed or t in self._bm25.vocab_dict]

    def idf(self, tokens: list[str]) -> np.ndarray:
        """BM25's inverse document frequency of each term (rarer terms weigh more; a term no
        indexed text has weighs most)."""
        indptr = self._bm25.scores["indptr"]
        vocabulary = self._bm25.vocab_dict
        df = np.array(
            [
                indptr[vocabulary[t] + 1] - indptr[vocabulary[t]] if t in vocabulary else 0
                for t in tokens
            ],
            dtype=np.float64,
        )
        n = float(self._bm25.scores["num_docs"])
        return np.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def postings(self, term: str) -> np.ndarray:
        """The ids of the indexed texts that have ``term`` (a stem; none when no text has it)."""
        t = self._bm25.vocab_dict.get(term)
        if t is None:
            return np.zeros(0, dtype=np.int64)
        scores = self._bm25.scores
        return np.asarray(scores["indices"][scores["indptr"][t] : scores["indptr"][t + 1]])

    def contains(self, tokens: list[str], ids: np.ndarray) -> np.ndarray:
        """A (len(ids), len(tokens)) table: whether indexed text ``ids[i]`` has term ``j``."""
        table = np.zeros((len(ids), len(tokens)), dtype=bool)
        for j, token in enumerate(tokens):
            table[:, j] = np.isin(ids, self.postings(token))
        return table

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every text for ``query`` (zeros when no query term is known)."""
        tokens = _tokenize([query])[0]
        if not tokens:
            return np.zeros(self._bm25.scores["num_docs"], dtype=np.float32)
        return np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)


def _files(folder: str) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.is_file())
