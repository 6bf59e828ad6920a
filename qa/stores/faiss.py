"""The embedded default store: FAISS and the index's data files in one folder.

Layout of an index folder:
  manifest.json            what was built from what; written last, by atomic rename
  chunks-<hash>.json       the chunks (spans and text), in vector order
  vectors-<hash>.npy       their normalised embeddings (kept so unchanged files are not re-embedded)
  sentences-<hash>.npy     float16 embeddings of each file's distinct chunk sentences, in order,
                           so the composer does not embed candidate sentences at question time
  bm25-<hash>.npz          the BM25 index of the chunks (built once, not at every load)
  faiss-<hash>.index       the FAISS index over the chunk vectors (exact, or HNSW when large)
  text-<src>-<hash>.json   the text read from each PDF, Word or web-page file (qa/kept.py); the
                           manifest's file entry names it ("kept") with its page starts ("pages")
Data files are named by content, so a crash mid-build leaves the previous manifest pointing at
complete files; a half-written index can never be loaded.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from qa import kept
from qa.chunking import Chunk
from qa.files import atomic_write
from qa.lexical import LexicalRanker
from qa.lexicon import Lexicon
from qa.stores.base import Built, Catalog, DocumentRows, sentence_rows

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
EXACT_SEARCH_LIMIT = 50_000  # above this many chunks an HNSW graph replaces exact search
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128  # candidates explored per query: recall vs exact is printed by the benchmark
DATA_SUFFIX = {
    "chunks": "json",
    "vectors": "npy",
    "sentences": "npy",
    "bm25": "npz",
    "faiss": "index",
}


@dataclass
class Index:
    """A loaded index: chunks, their vectors, the FAISS and BM25 structures searching them."""

    directory: Path
    manifest: dict[str, Any]
    chunks: list[Chunk]
    vectors: np.ndarray
    sentence_vectors: np.ndarray  # float16, rows in the order of sentence_texts(chunks)
    lexical: LexicalRanker
    faiss: Any
    _sentence_rows: list[np.ndarray] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._sentence_rows = sentence_rows(self.chunks)

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog.of(self.chunks)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids) of the ``k`` nearest chunks to one normalised query vector."""
        k = min(k, len(self.chunks))
        scores, ids = self.faiss.search(query.reshape(1, -1).astype(np.float32), k)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def fetch(self, ids: Sequence[int]) -> list[Chunk]:
        return [self.chunks[i] for i in ids]

    def chunk_vectors(self, ids: np.ndarray) -> np.ndarray:
        return self.vectors[ids]

    def sentence_vectors_of(self, ids: Sequence[int]) -> list[np.ndarray]:
        return [self.sentence_vectors[self._sentence_rows[i]] for i in ids]

    def lexicon(self) -> Lexicon:
        return Lexicon((c.embed_text() for c in self.chunks), (c.title for c in self.chunks))

    def document_rows(self, entry: dict[str, Any]) -> DocumentRows:
        first, last = entry["chunks"]
        s_first, s_last = entry["sentences"]
        return DocumentRows(
            self.chunks[first:last],
            self.vectors[first:last],
            self.sentence_vectors[s_first:s_last],
        )


def make_faiss(vectors: np.ndarray, exact_limit: int = EXACT_SEARCH_LIMIT) -> Any:
    """Exact inner-product search up to ``exact_limit`` vectors, an HNSW graph above it."""
    import faiss

    dimension = vectors.shape[1]
    index: Any
    if len(vectors) <= exact_limit:
        index = faiss.IndexFlatIP(dimension)
    else:
        index = faiss.IndexHNSWFlat(dimension, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    index.add(vectors)
    return index


class FilesBackend:
    """Index versions as files in one folder, searched with FAISS in this process."""

    follows_corpus = True

    def __init__(self, directory: Path, exact_limit: int = EXACT_SEARCH_LIMIT) -> None:
        self.directory = directory
        self.location = str(directory)
        self.exact_limit = exact_limit

    def lock(self) -> Any:
        from filelock import FileLock

        self.directory.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.directory / ".lock"), timeout=600)

    def read_manifest(self) -> dict[str, Any] | None:
        return read_manifest(self.directory)

    def load(self, manifest: dict[str, Any]) -> Index:
        return load_index(self.directory, manifest)

    def write(self, built: Built, previous: Any) -> Index:
        """Write the data files named by content, then the manifest by atomic rename."""
        import faiss

        index = make_faiss(built.vectors, self.exact_limit)
        manifest = {**built.manifest, "faiss_type": type(index).__name__}
        blobs = {
            "chunks": json.dumps([c.to_dict() for c in built.chunks], ensure_ascii=False).encode(
                "utf-8"
            ),
            "vectors": _npy_bytes(built.vectors),
            "sentences": _npy_bytes(built.sentence_vectors),
            "bm25": built.lexical.to_bytes(),
            "faiss": faiss.serialize_index(index).tobytes(),
        }
        manifest["data"], manifest["checksums"] = {}, {}
        for role, blob in blobs.items():
            digest = hashlib.sha256(blob).hexdigest()
            name = f"{role}-{digest[:16]}.{DATA_SUFFIX[role]}"
            atomic_write(self.directory / name, blob)
            manifest["data"][role] = name
            manifest["checksums"][name] = digest
        atomic_write(self.directory / MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))
        # Text kept for the previous build stays one more build, for citations made from it.
        earlier = kept.names_in(previous.manifest) if previous is not None else set()
        _remove_unreferenced(self.directory, manifest, earlier)
        return Index(
            self.directory,
            manifest,
            built.chunks,
            built.vectors,
            built.sentence_vectors,
            built.lexical,
            index,
        )


def read_manifest(directory: Path) -> dict[str, Any] | None:
    """The manifest, or None when missing or unreadable (which means: rebuild)."""
    try:
        data = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        log.warning("index manifest in %s is unreadable (%s); it will be rebuilt", directory, error)
        return None
    return data if isinstance(data, dict) else None


def load_index(directory: Path, manifest: dict[str, Any]) -> Index:
    """Read the files the manifest names, checking each against its recorded checksum."""
    import faiss

    blobs: dict[str, bytes] = {}
    for role, name in manifest["data"].items():
        blob = (directory / name).read_bytes()
        if hashlib.sha256(blob).hexdigest() != manifest["checksums"][name]:
            raise ValueError(f"{name} does not match its checksum")
        blobs[role] = blob
    chunks = [Chunk.from_dict(item) for item in json.loads(blobs.pop("chunks"))]
    vectors = np.load(io.BytesIO(blobs.pop("vectors")), allow_pickle=False)
    sentences = np.load(io.BytesIO(blobs.pop("sentences")), allow_pickle=False)
    lexical = LexicalRanker.from_bytes(blobs.pop("bm25"))
    index = faiss.deserialize_index(np.frombuffer(blobs.pop("faiss"), dtype=np.uint8))
    if not (len(chunks) == vectors.shape[0] == index.ntotal):
        raise ValueError("chunks, vectors and FAISS index disagree in size")
    if sentences.shape[0] != manifest.get("n_sentences"):
        raise ValueError("sentence vectors disagree with the manifest in size")
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    return Index(directory, manifest, chunks, vectors, sentences, lexical, index)


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _remove_unreferenced(
    directory: Path, manifest: dict[str, Any], also_keep: set[str] | None = None
) -> None:
    """Delete data files of older builds and temporary files left by a killed build.

    Called under the index lock, so no other build is writing temporary files meanwhile.
    """
    keep = set(manifest["data"].values()) | kept.names_in(manifest) | (also_keep or set())
    keep |= {MANIFEST, ".lock"}
    for path in directory.iterdir():
        leftover = path.name.startswith(".") and path.name.endswith(".tmp")
        old = path.name.split("-")[0] in DATA_SUFFIX or path.name.startswith(kept.PREFIX)
        if path.is_file() and path.name not in keep and (leftover or old):
            path.unlink(missing_ok=True)
