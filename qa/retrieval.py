"""Ranking chunks for a question: dense (FAISS) and lexical (BM25) candidates, then a learned
model's probability that a chunk holds the answer.

Stage 1 takes the best chunks of each ranker. Stage 2 describes every candidate by FEATURES
and ranks by the model ``qa/models/passage.json`` (a small MLP fitted by ``benchmarks/train.py``
on the dev halves of every dev corpus together): a passage's score is its share of the
softmax over the candidates, the probability that it is the one holding the answer.
  dense          cosine of the question and the chunk (title, heading and text embedded together)
  sentence       the best cosine of the question and one sentence of the chunk (long chunks of
                 long articles hide a one-sentence answer from the whole-chunk vector)
  lexical        BM25 of the chunk, divided by the best BM25 score of the question
  dense_rank     1 / (RRF_K + rank) of the chunk among the candidates by dense similarity
  lexical_rank   the same by BM25 (so the model can fuse ranks as reciprocal-rank fusion does)
  document       the best dense similarity of any candidate of the same document
  document_lexical  the same for the lexical score
  terms          share of the question's terms (weighted by rarity, BM25's idf) in the chunk
  sentence_terms the best such share within one sentence of the chunk (terms found together)
  title          share of the document title's words that the question names; this is what
                 sends text shared by several documents (boilerplate) to the one asked about
  heading        cosine of the question's aspect ('What are the treatments for') and the
                 chunk's section heading ('Treatment'); 0 where the document has no headings
  heading_words  share of the heading's words that the question uses (0 without a heading)
  no_heading     1 for a chunk whose document gives it no heading, so the model can weigh
                 the other features differently for text without structure
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from qa import learned
from qa.chunking import Chunk, Span
from qa.embedding import Embedder
from qa.lexical import coverage, stem_set, tokenize
from qa.question import Question
from qa.stores.base import IndexStore

CANDIDATES = 50  # chunks taken from each ranker before the rerank
RRF_K = 60  # the usual constant of reciprocal-rank fusion
SENTENCE_TOKEN_CACHE = 20_000  # chunks whose sentence terms are kept between questions
FEATURES = (
    "dense",
    "sentence",
    "lexical",
    "dense_rank",
    "lexical_rank",
    "document",
    "document_lexical",
    "terms",
    "sentence_terms",
    "title",
    "heading",
    "heading_words",
    "no_heading",
)


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its scores; spans index the source file's decoded text."""

    source: str
    title: str
    section: str
    start: int
    end: int
    text: str
    score: float  # the model's probability that this passage holds the answer
    similarity: float  # cosine similarity of question and passage embeddings
    sentences: tuple[Span, ...]
    chunk_id: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Candidates:
    """The chunks considered for one question and their FEATURES (one row per chunk), with
    what the composer reuses: the question's vectors and the weights of its terms."""

    ids: np.ndarray
    features: np.ndarray
    query_vector: np.ndarray  # the question (with its focus, for a long one)
    aspect_vector: np.ndarray  # what is asked of the subject ('What are the treatments for')
    term_weights: dict[str, float]  # each term of the question: its idf (unknown terms most)
    unindexed: float  # share of that weight on terms no indexed text has
    lexical_strength: float  # the best BM25 score over the question's total term weight
    searched: int  # how many chunks the candidates were chosen from
    sentence_vectors: list[np.ndarray]  # each chunk's stored sentence vectors (float32)


@dataclass(frozen=True)
class Retrieval:
    """The passages found for an analysed question, best first, and the question's vectors,
    its term weights and the passages' sentence vectors, so that composing does not compute
    or read them again."""

    question: Question
    passages: list[Passage]
    passage_features: np.ndarray  # each passage's FEATURES and, last, the model's logit
    query_vector: np.ndarray
    aspect_vector: np.ndarray
    term_weights: dict[str, float]
    unindexed: float
    lexical_strength: float
    passages_searched: int
    sentence_vectors: list[np.ndarray]  # each passage's, one row per sentence in its order


class Retriever:
    """Finds the passages of one index that best match a question."""

    def __init__(self, index: IndexStore, embedder: Embedder, model: str = "passage") -> None:
        self.index = index
        self.embedder = embedder
        self.model_name = model
        self.lexical = index.lexical
        catalog = index.catalog
        headings = [section for section in catalog.sections if section]  # sorted
        heading_row = {heading: row for row, heading in enumerate(headings)}
        section_heading = np.array([heading_row.get(s, -1) for s in catalog.sections])
        self._heading_of = section_heading[catalog.section_of]
        self._heading_vectors = (
            embedder.encode(headings) if headings else np.zeros((0, embedder.dimension))
        )
        self._heading_stems = [stem_set(heading) for heading in headings]
        headed = self._heading_of >= 0  # how many documents have each heading:
        documents = len(catalog.sources)
        pairs = np.unique(  # one key per (heading, document), 1-D: fast on 100,000 chunks
            self._heading_of[headed].astype(np.int64) * documents + catalog.source_of[headed]
        )
        self._heading_documents = np.bincount(pairs // documents, minlength=len(headings))
        self._title_stems = [stem_set(title) for title in catalog.titles]
        self._title_of = catalog.title_of
        self._document_of = catalog.source_of
        self._source_row = {source: row for row, source in enumerate(catalog.sources)}
        self._sentence_tokens: dict[int, list[frozenset[str]]] = {}

    @property
    def model(self) -> learned.Model:
        return learned.load(self.model_name, FEATURES)

    def candidates(self, question: Question, within: frozenset[str] = frozenset()) -> Candidates:
        """Stage 1: the best chunks of the dense and the lexical ranker, with their features;
        only chunks of the documents ``within`` when it names any that the index holds (a
        follow-up is searched in the documents of its conversation's topic)."""
        lexical = self.lexical.scores(question.words_query)
        pool = self._pool(within)
        if pool is not None:
            lexical = np.where(pool, lexical, 0.0)
        depth = min(CANDIDATES, len(lexical))
        lexical_ids = np.argpartition(-lexical, depth - 1)[:depth]
        lexical_ids = lexical_ids[lexical[lexical_ids] > 0]
        texts = [question.query, question.aspect, question.focus]
        vectors = self.embedder.encode([t or question.query for t in texts])
        aspect_vector = vectors[1] if question.aspect else vectors[0]
        query_vector = vectors[0]
        if question.focus != question.query:  # a long question: its focus searches too
            query_vector = vectors[0] + vectors[2]
            query_vector = query_vector / np.linalg.norm(query_vector)
        if pool is None:
            _, dense_ids = self.index.search(query_vector, CANDIDATES)
        else:
            inside = np.flatnonzero(pool)
            similarity = self.index.chunk_vectors(inside) @ query_vector
            dense_ids = inside[np.argsort(-similarity, kind="stable")[:CANDIDATES]]
        ids = np.unique(np.concatenate([dense_ids, lexical_ids])).astype(np.int64)

        features = np.zeros((len(ids), len(FEATURES)), dtype=np.float32)
        dense = self.index.chunk_vectors(ids) @ query_vector
        features[:, 0] = dense
        stored = self.index.sentence_vectors_of(ids.tolist())
        counts = np.array([len(v) for v in stored], dtype=np.int64)
        every_sentence = (
            np.concatenate(stored).astype(np.float32)
            if stored
            else np.zeros((0, len(query_vector)), dtype=np.float32)
        )
        sentence_vectors = np.split(every_sentence, np.cumsum(counts[:-1]))
        if len(ids):  # every chunk has a sentence: the best one's similarity
            similarity = every_sentence @ query_vector
            features[:, 1] = np.maximum.reduceat(similarity, np.cumsum(counts) - counts)
        top_lexical = float(lexical.max()) if lexical.size else 0.0
        if top_lexical > 0:
            features[:, 2] = lexical[ids] / top_lexical
        features[:, 3] = 1.0 / (RRF_K + _ranks(dense))
        features[:, 4] = 1.0 / (RRF_K + _ranks(lexical[ids]))
        documents = self._document_of[ids]
        features[:, 5] = _best_per_group(documents, dense)
        features[:, 6] = _best_per_group(documents, features[:, 2])
        every = self.lexical.tokens(question.words_query, indexed=False)
        term_weights = dict(zip(every, self.lexical.idf(every).tolist(), strict=True))
        tokens = self.lexical.tokens(question.words_query)
        if tokens:
            idf = self.lexical.idf(tokens)
            idf = idf / idf.sum()
            features[:, 7] = self.lexical.contains(tokens, ids) @ idf
            self._tokenise_sentences(ids.tolist())
            weighted = list(zip(tokens, idf.tolist(), strict=True))  # tokens are distinct
            features[:, 8] = [self._sentence_terms(int(i), weighted) for i in ids]
        asked = stem_set(question.words_query)
        features[:, 9] = [coverage(self._title_stems[t], asked) for t in self._title_of[ids]]
        headings = self._heading_of[ids]
        has_heading = headings >= 0
        features[:, 12] = ~has_heading
        if has_heading.any():
            features[has_heading, 10] = self._heading_vectors[headings[has_heading]] @ aspect_vector
            features[has_heading, 11] = [
                coverage(self._heading_stems[h], asked) for h in headings[has_heading]
            ]
        total = sum(term_weights.values())
        unindexed = (
            sum(w for t, w in term_weights.items() if t not in tokens) / total if total else 0.0
        )
        strength = top_lexical / total if total else 0.0
        searched = len(self.index.catalog) if pool is None else int(pool.sum())
        return Candidates(
            ids,
            features,
            query_vector,
            aspect_vector,
            term_weights,
            unindexed,
            strength,
            searched,
            sentence_vectors,
        )

    def names_own_heading(self, chunk_id: int, asked: frozenset[str]) -> bool:
        """Whether ``asked`` (stems) names every word of the chunk's section heading, when no
        other document has that heading ('Warranty' of a router's guide; not medquad's
        'Symptoms', which every document has)."""
        h = int(self._heading_of[chunk_id])
        return h >= 0 and self._heading_documents[h] == 1 and self._heading_stems[h] <= asked

    def in_one_document(self, terms: frozenset[str]) -> frozenset[str]:
        """Those of ``terms`` (stems) that the text of one document alone uses."""
        found = set()
        for t in terms:
            documents = self._document_of[self.lexical.postings(t)]
            if documents.size and documents.min() == documents.max():
                found.add(t)
        return frozenset(found)

    def _pool(self, within: frozenset[str]) -> np.ndarray | None:
        """Which chunks belong to the documents ``within`` (None: every chunk, also when the
        index holds none of them any more)."""
        if not within:
            return None
        rows = [self._source_row[s] for s in within if s in self._source_row]
        return np.isin(self._document_of, rows) if rows else None

    def _sentence_terms(self, chunk_id: int, weighted: list[tuple[str, float]]) -> float:
        """The largest share of the (term, weight) pairs ``weighted`` that one sentence of the
        chunk has."""
        return max(
            (
                sum(w for t, w in weighted if t in sentence)
                for sentence in self._sentence_tokens[chunk_id]
            ),
            default=0.0,
        )

    def _tokenise_sentences(self, ids: list[int]) -> None:
        """Keep the indexed terms of each sentence of these chunks (fetched once, together)."""
        missing = [i for i in dict.fromkeys(ids) if i not in self._sentence_tokens]
        if len(self._sentence_tokens) + len(missing) > SENTENCE_TOKEN_CACHE:
            self._sentence_tokens.clear()
            missing = list(dict.fromkeys(ids))
        for chunk_id, chunk in zip(missing, self.index.fetch(missing), strict=True):
            texts = [chunk.text[a - chunk.start : b - chunk.start] for a, b in chunk.sentences]
            self._sentence_tokens[chunk_id] = [frozenset(t) for t in tokenize(texts)]

    def rank(self, candidates: Candidates, k: int) -> tuple[list[Passage], np.ndarray, list[int]]:
        """Stage 2: the ``k`` candidates most likely to hold the answer, best first, the rows
        of their candidate features and their positions among the candidates (same order)."""
        logits = self.model.logit(candidates.features)
        probability = np.exp(logits - logits.max())
        probability /= probability.sum()
        order = np.lexsort((candidates.ids, -logits))[:k]
        chunks = self.index.fetch([int(candidates.ids[i]) for i in order])
        passages = [
            _passage(
                chunk,
                int(candidates.ids[i]),
                float(probability[i]),
                float(candidates.features[i, 0]),
            )
            for chunk, i in zip(chunks, order, strict=True)
        ]
        rows = np.column_stack([candidates.features[order], logits[order]])
        return passages, rows, order.tolist()

    def search(
        self, question: Question, k: int = 10, within: frozenset[str] = frozenset()
    ) -> Retrieval:
        """The ``k`` best passages for an analysed question, best first, with its vectors;
        searched only in the documents ``within`` when it names any (see ``candidates``)."""
        found = self.candidates(question, within)
        passages, rows, order = self.rank(found, k)
        return Retrieval(
            question,
            passages,
            rows,
            found.query_vector,
            found.aspect_vector,
            found.term_weights,
            found.unindexed,
            found.lexical_strength,
            found.searched,
            [found.sentence_vectors[i] for i in order],
        )

    def retrieve(self, question: Question, k: int = 10) -> list[Passage]:
        """The ``k`` best passages for an analysed question, best first."""
        return self.rank(self.candidates(question), k)[0]

    def tokenize(self, texts: list[str]) -> list[tuple[str, ...]]:
        """Texts as the lexical ranker sees them (stems without stop words)."""
        return tokenize(texts)

    def overlapping_text(self, spans: Set[tuple[str, int, int]]) -> str:
        """The text of the chunks overlapping any (source, start, end) span, in index order."""
        return " ".join(c.text for c in self.index.fetch(self.index.catalog.overlapping(spans)))


def _passage(chunk: Chunk, chunk_id: int, score: float, similarity: float) -> Passage:
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


def _best_per_group(groups: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each row, the largest value among the rows of its group."""
    best: dict[int, float] = {}
    for group, value in zip(groups.tolist(), values.tolist(), strict=True):
        best[group] = max(best.get(group, value), value)
    return np.array([best[group] for group in groups.tolist()], dtype=np.float32)


def _ranks(scores: np.ndarray) -> np.ndarray:
    """1-based rank of each score among ``scores``, best first (ties in candidate order)."""
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.float32)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks
