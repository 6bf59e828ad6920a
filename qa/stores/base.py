"""The narrow interface between ranking and where an index lives.

A store holds one built version of an index: chunk vectors searched by dense top-k, the BM25
index (lexical scores of every chunk, as the learned rerank was trained on), the chunks and
their sentence vectors fetched by id, a catalog of what every chunk is (document, title,
section, span) and the manifest. Chunk ids are positions in the version's chunk order.
A backend writes new versions (adding and removing documents' chunks) and reads the current one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence, Set
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.chunking import Chunk
from qa.lexical import LexicalRanker
from qa.lexicon import Lexicon


@dataclass(frozen=True)
class Catalog:
    """What every chunk is, without its text: document, title, section and span by chunk id.

    Name tables are sorted, so ``source_of`` numbers documents in sorted order.
    """

    sources: tuple[str, ...]
    titles: tuple[str, ...]
    sections: tuple[str, ...]
    source_of: np.ndarray
    title_of: np.ndarray
    section_of: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    @classmethod
    def of(cls, chunks: Sequence[Chunk]) -> Catalog:
        tables = [sorted({getattr(c, field) for c in chunks}) for field in FIELDS]
        rows = [{name: row for row, name in enumerate(table)} for table in tables]
        columns = [
            np.array([row[getattr(c, field)] for c in chunks], dtype=np.int32)
            for field, row in zip(FIELDS, rows, strict=True)
        ]
        starts = np.array([c.start for c in chunks], dtype=np.int64)
        ends = np.array([c.end for c in chunks], dtype=np.int64)
        sources, titles, sections = (tuple(t) for t in tables)
        return cls(sources, titles, sections, columns[0], columns[1], columns[2], starts, ends)

    def __len__(self) -> int:
        return len(self.source_of)

    def title(self, chunk_id: int) -> str:
        return self.titles[self.title_of[chunk_id]]

    def titles_by_source(self) -> dict[str, str]:
        """Document title by source file."""
        return {
            self.sources[s]: self.titles[t]
            for s, t in zip(self.source_of.tolist(), self.title_of.tolist(), strict=True)
        }

    def overlapping(self, spans: Set[tuple[str, int, int]]) -> list[int]:
        """Ids of the chunks (in id order) that overlap any (source, start, end) span."""
        row = {name: i for i, name in enumerate(self.sources)}
        hit = np.zeros(len(self), dtype=bool)
        for source, start, end in spans:
            if source in row:
                hit |= (self.source_of == row[source]) & (self.starts < end) & (start < self.ends)
        return np.flatnonzero(hit).tolist()

    def _columns(self) -> tuple[np.ndarray, ...]:
        return (self.source_of, self.title_of, self.section_of, self.starts, self.ends)

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "tables": [list(self.sources), list(self.titles), list(self.sections)],
                "columns": [a.tolist() for a in self._columns()],
            },
            ensure_ascii=False,
        ).encode("utf-8")

    @classmethod
    def from_bytes(cls, blob: bytes) -> Catalog:
        data = json.loads(blob)
        sources, titles, sections = (tuple(t) for t in data["tables"])
        kinds = (np.int32, np.int32, np.int32, np.int64, np.int64)
        c = [np.array(c, dtype=k) for c, k in zip(data["columns"], kinds, strict=True)]
        return cls(sources, titles, sections, c[0], c[1], c[2], c[3], c[4])


FIELDS = ("source", "title", "section")


def sentence_rows(chunks: list[Chunk]) -> list[np.ndarray]:
    """For each chunk, the rows of its sentences' vectors (in ``sentence_texts`` order)."""
    row_of: dict[tuple[str, int, int], int] = {}
    rows: list[np.ndarray] = []
    for chunk in chunks:
        own = []
        for start, end in chunk.sentences:
            key = (chunk.source, start, end)
            if key not in row_of:
                row_of[key] = len(row_of)
            own.append(row_of[key])
        rows.append(np.asarray(own, dtype=np.int64))
    return rows


@dataclass(frozen=True)
class DocumentRows:
    """One document's chunks, their vectors and its distinct sentences' float16 vectors."""

    chunks: list[Chunk]
    vectors: np.ndarray
    sentence_vectors: np.ndarray


@dataclass(frozen=True)
class Built:
    """A new index version as the builder made it, for a backend to write."""

    manifest: dict[str, Any]
    chunks: list[Chunk]
    vectors: np.ndarray
    sentence_vectors: np.ndarray
    lexical: LexicalRanker


class IndexStore(Protocol):
    """One loaded index version: what retrieval and composing read."""

    manifest: dict[str, Any]
    lexical: LexicalRanker
    directory: Path  # where the text kept for PDF, Word and web pages lives (qa/kept.py)

    @property
    def catalog(self) -> Catalog: ...

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids) of the ``k`` nearest chunks to one normalised query vector."""
        ...

    def fetch(self, ids: Sequence[int]) -> list[Chunk]:
        """The chunks of ``ids``, in that order."""
        ...

    def chunk_vectors(self, ids: np.ndarray) -> np.ndarray:
        """The float32 vectors of chunks ``ids``, one row each."""
        ...

    def sentence_vectors_of(self, ids: Sequence[int]) -> list[np.ndarray]:
        """For each chunk of ``ids``, the float16 vectors of its sentences, in its order."""
        ...

    def lexicon(self) -> Lexicon:
        """The corpus's vocabulary (spelling tolerance, acronyms, titles)."""
        ...

    def document_rows(self, entry: dict[str, Any]) -> DocumentRows:
        """What the manifest ``entry`` of one file holds, for a build that reuses it."""
        ...


class Backend(Protocol):
    """Where the versions of one index live: reads the current one, writes new ones."""

    location: str
    follows_corpus: bool  # readers rebuild from the corpus folder (files) or only read (server)

    def lock(self) -> AbstractContextManager[object]:
        """Held while a version is read and, when stale, written."""
        ...

    def read_manifest(self) -> dict[str, Any] | None:
        """The current version's manifest, or None when there is none (or it is unreadable)."""
        ...

    def load(self, manifest: dict[str, Any]) -> IndexStore:
        """The version ``manifest`` describes (ValueError and the like when damaged)."""
        ...

    def write(self, built: Built, previous: IndexStore | None) -> IndexStore:
        """Store ``built`` as the current version, keeping ``previous`` readable one build more."""
        ...
