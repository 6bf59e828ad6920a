"""The index on a Milvus server (or Milvus Lite), shared by any number of chat servers.

Three collections, named ``<name>_chunks``, ``<name>_sentences`` and ``<name>_blobs``:
  chunks     one row per chunk of every stored document: its vector (searched by inner
             product, FLAT: exact, as FAISS is up to 50,000 chunks), the chunk itself (JSON)
             and the rows of its sentences; keyed "<document key>:<n>"
  sentences  the float16 vectors of each document's distinct sentences (stored as float32,
             which holds them exactly: Milvus Lite has no float16 vectors); "<key>:<row>"
  blobs      what a version needs whole, in parts of 45,000 bytes: the BM25 index (bm25s, as
             the learned rerank was trained on; see README), the catalog, the vocabulary, the
             text kept for PDF, Word and web-page files (qa/kept.py: a reader writes it into
             its own index folder, for the source panel) and the manifest; and the row
             "current", naming the manifest of the current version

A document key is a hash of the file's name, content and the chunking settings, so a build
inserts only the documents that are new or changed and a document's rows never change. A
version is published by one upsert of "current", after everything it names is written, so a
reader sees a whole version or the one before. Each chunk row carries the version that first
stored it ("since"); a reader of version V searches ``since <= V`` minus the documents V
removed, so it never sees a newer build's rows, and the rows of removed documents are deleted
one build later (a reader still on the previous version keeps answering meanwhile).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from qa import kept
from qa.chunking import Chunk
from qa.config import Settings, StoreAddress
from qa.files import atomic_write
from qa.lexical import LexicalRanker
from qa.lexicon import Lexicon
from qa.stores.base import Built, Catalog, DocumentRows, sentence_rows

log = logging.getLogger(__name__)

BLOB_PART = 45_000  # raw bytes per blob row: base64 of it fits a VARCHAR of 65,535
INSERT_BATCH = 500  # rows per insert call
GET_BATCH = 1_000  # ids per get call
ROW_CACHE = 20_000  # chunks (and as many sentences) kept per loaded version
CURRENT = "current"
TIMEOUT = 30.0  # seconds for one call to the server


class MilvusBackend:
    """Versions of one index in Milvus collections; written by ``qa build``, read by servers."""

    follows_corpus = False

    def __init__(self, address: StoreAddress, settings: Settings) -> None:
        self.address = address
        self.settings = settings
        self.location = settings.store
        prefix = address.collections
        self.chunks, self.sentences, self.blobs = (
            f"{prefix}_chunks",
            f"{prefix}_sentences",
            f"{prefix}_blobs",
        )

    @cached_property
    def client(self) -> Any:
        return _client(self.address.uri)

    def lock(self) -> Any:
        """Builders on this machine take turns (one builder per store is the rule)."""
        from filelock import FileLock

        self.settings.index_dir.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.settings.index_dir / ".lock"), timeout=600)

    def read_manifest(self) -> dict[str, Any] | None:
        if not self.client.has_collection(self.blobs):
            return None
        _load(self.client, self.blobs)
        rows = self.client.get(self.blobs, ids=[f"{CURRENT}:0"], output_fields=["data"])
        if not rows:
            return None
        name, parts, digest = base64.b64decode(rows[0]["data"]).decode("ascii").split()
        return _manifest(self, name, int(parts), digest)

    def load(self, manifest: dict[str, Any]) -> MilvusStore:
        return MilvusStore(self, manifest)

    def read_blob(self, name: str, parts: int, digest: str) -> bytes:
        ids = [f"{name}:{part}" for part in range(parts)]
        rows: dict[str, str] = {}
        for batch in _batches(ids, GET_BATCH):
            for row in self.client.get(self.blobs, ids=batch, output_fields=["pk", "data"]):
                rows[row["pk"]] = row["data"]
        blob = b"".join(base64.b64decode(rows[i]) for i in ids)
        if hashlib.sha256(blob).hexdigest() != digest:
            raise ValueError(f"{name} in {self.location} does not match its checksum")
        return blob

    def write(self, built: Built, previous: object) -> MilvusStore:
        """Insert the new documents' rows, then the blobs, then publish; then drop the rows
        and blobs no longer needed by this version or the one before."""
        current = self.read_manifest()
        dimension = int(built.manifest["dimension"])
        if current is not None and current.get("dimension") != dimension:
            for name in (self.chunks, self.sentences, self.blobs):
                self.client.drop_collection(name)
            current = None
        self._create(dimension)
        version = int(current.get("version", 0)) + 1 if current is not None else 1
        files = {name: dict(entry) for name, entry in built.manifest["files"].items()}
        stored = _documents(current)
        for name, entry in files.items():
            first, last = entry["chunks"]
            if "duplicate_of" in entry or first == last:
                continue
            entry["doc"] = document_key(name, entry["sha256"], built.manifest)
            if entry["doc"] not in stored:
                self._insert_document(entry, built, version)
        live = {entry["doc"] for entry in files.values() if "doc" in entry}
        manifest: dict[str, Any] = {
            **built.manifest,
            "files": files,
            "store": "milvus",
            "version": version,
            "removed_docs": sorted(stored - live),
            "data": {},
            "checksums": {},
            "parts": {},
        }
        blobs = {
            "bm25": built.lexical.to_bytes(),
            "catalog": Catalog.of(built.chunks).to_bytes(),
            "lexicon": Lexicon(
                (c.embed_text() for c in built.chunks), (c.title for c in built.chunks)
            ).to_bytes(),
        }
        for role, blob in blobs.items():
            manifest["data"][role], manifest["checksums"][role], manifest["parts"][role] = (
                self._write_blob(role, blob)
            )
        manifest["kept"] = self._write_kept(built.manifest, current)
        name, digest, parts = self._write_blob("manifest", json.dumps(manifest).encode("utf-8"))
        self.client.upsert(
            self.blobs, [_blob_row(CURRENT, 0, f"{name} {parts} {digest}".encode("ascii"))]
        )
        manifest["blob"] = name
        with _cache_lock:
            _manifests[self.location, name] = manifest
        blobs_used = {CURRENT, name, *manifest["data"].values(), *manifest["kept"]}
        if current is not None:
            blobs_used |= {current["blob"], *current["data"].values(), *current.get("kept", {})}
        self._collect(live | stored, blobs_used)
        return MilvusStore(self, manifest)

    def _create(self, dimension: int) -> None:
        from pymilvus import DataType

        for name, dim in ((self.chunks, dimension), (self.sentences, dimension), (self.blobs, 2)):
            if self.client.has_collection(name):
                _load(self.client, name)
                continue
            schema = self.client.create_schema(auto_id=False)
            schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=200)
            if name == self.blobs:
                schema.add_field("name", DataType.VARCHAR, max_length=200)
                schema.add_field("data", DataType.VARCHAR, max_length=65_535)
            else:
                schema.add_field("doc", DataType.VARCHAR, max_length=64)
            if name == self.chunks:
                schema.add_field("n", DataType.INT64)
                schema.add_field("since", DataType.INT64)
                schema.add_field("chunk", DataType.JSON)
            # Every Milvus collection needs a vector field; the blobs' is a constant.
            schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
            index = self.client.prepare_index_params()
            index.add_index("vector", index_type="FLAT", metric_type="IP")
            self.client.create_collection(
                name, schema=schema, index_params=index, consistency_level="Strong"
            )

    def _insert_document(self, entry: dict[str, Any], built: Built, version: int) -> None:
        first, last = entry["chunks"]
        s_first, s_last = entry["sentences"]
        key = entry["doc"]
        chunks = built.chunks[first:last]
        rows = [
            {
                "pk": f"{key}:{n}",
                "doc": key,
                "n": n,
                "since": version,
                "chunk": {**chunk.to_dict(), "rows": own.tolist()},
                "vector": built.vectors[first + n].tolist(),
            }
            for n, (chunk, own) in enumerate(zip(chunks, sentence_rows(chunks), strict=True))
        ]
        sentences = built.sentence_vectors[s_first:s_last].astype(np.float32)
        for batch in _batches(rows, INSERT_BATCH):
            self.client.upsert(self.chunks, batch)
        sentence_rows_ = [
            {"pk": f"{key}:{j}", "doc": key, "vector": vector.tolist()}
            for j, vector in enumerate(sentences)
        ]
        for batch in _batches(sentence_rows_, INSERT_BATCH):
            self.client.upsert(self.sentences, batch)

    def _write_blob(self, role: str, blob: bytes, named: str | None = None) -> tuple[str, str, int]:
        """Store ``blob`` under a name of its content (or ``named``): (name, sha256, parts)."""
        digest = hashlib.sha256(blob).hexdigest()
        name = named or f"{role}-{digest[:16]}"
        parts = [blob[i : i + BLOB_PART] for i in range(0, len(blob), BLOB_PART)] or [b""]
        rows = [_blob_row(name, n, part) for n, part in enumerate(parts)]
        for batch in _batches(rows, 50):
            self.client.upsert(self.blobs, batch)
        return name, digest, len(parts)

    def _write_kept(
        self, manifest: dict[str, Any], current: dict[str, Any] | None
    ) -> dict[str, list[Any]]:
        """Store the kept texts ``manifest`` names that are not stored yet: name -> [sha256,
        parts] of each."""
        stored = (current or {}).get("kept", {})
        written = {}
        for name in sorted(kept.names_in(manifest)):
            if name in stored:
                written[name] = stored[name]
            else:
                blob = (self.settings.index_dir / name).read_bytes()
                _, digest, parts = self._write_blob(name, blob, named=name)
                written[name] = [digest, parts]
        return written

    def _collect(self, documents: set[str], blobs: set[str]) -> None:
        """Delete the rows of other documents and other blobs (older versions')."""
        for name in (self.chunks, self.sentences):
            self.client.delete(name, filter=f"doc not in {json.dumps(sorted(documents))}")
        self.client.delete(self.blobs, filter=f"name not in {json.dumps(sorted(blobs))}")


class MilvusStore:
    """One version of an index in Milvus: BM25, catalog and manifest in memory; chunks,
    vectors and sentence vectors read from the server when a question needs them."""

    def __init__(self, backend: MilvusBackend, manifest: dict[str, Any]) -> None:
        self.backend = backend
        self.manifest = manifest
        self.directory: Path = backend.settings.index_dir
        self.lexical = LexicalRanker.from_bytes(self._blob("bm25"))
        self.catalog = Catalog.from_bytes(self._blob("catalog"))
        placed = sorted(
            (entry["chunks"][0], entry["doc"])
            for entry in manifest["files"].values()
            if "doc" in entry
        )
        self._firsts = np.array([first for first, _ in placed], dtype=np.int64)
        self._docs = [doc for _, doc in placed]
        self._first_of = {doc: first for first, doc in placed}
        removed = manifest.get("removed_docs") or []
        self._filter = f"since <= {int(manifest['version'])}" + (
            f" and doc not in {json.dumps(removed)}" if removed else ""
        )
        self._lock = threading.Lock()
        self._chunks: dict[int, tuple[Chunk, np.ndarray, list[int]]] = {}
        self._sentences: dict[str, np.ndarray] = {}
        for name in (backend.chunks, backend.sentences):
            _load(backend.client, name)
        self._keep_texts()

    def _keep_texts(self) -> None:
        """Write the version's kept texts this machine lacks into its index folder."""
        for name, (digest, parts) in self.manifest.get("kept", {}).items():
            if not (self.directory / name).is_file():
                self.directory.mkdir(parents=True, exist_ok=True)
                atomic_write(self.directory / name, self.backend.read_blob(name, parts, digest))

    def _blob(self, role: str) -> bytes:
        name = self.manifest["data"][role]
        return self.backend.read_blob(
            name, self.manifest["parts"][role], self.manifest["checksums"][role]
        )

    def _key(self, chunk_id: int) -> tuple[str, int]:
        at = int(np.searchsorted(self._firsts, chunk_id, side="right")) - 1
        return self._docs[at], chunk_id - int(self._firsts[at])

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, len(self.catalog))
        hits = self.backend.client.search(
            self.backend.chunks,
            data=[np.asarray(query, dtype=np.float32).tolist()],
            limit=k,
            filter=self._filter,
            output_fields=["doc", "n"],
            search_params={"metric_type": "IP"},
        )[0]
        ids = [self._first_of[h["entity"]["doc"]] + int(h["entity"]["n"]) for h in hits]
        scores = [float(h["distance"]) for h in hits]
        return np.array(scores, dtype=np.float32), np.array(ids, dtype=np.int64)

    def _rows(self, ids: Sequence[int]) -> list[tuple[Chunk, np.ndarray, list[int]]]:
        """(chunk, vector, sentence rows) of each id, read once per loaded version."""
        with self._lock:
            found = {i: self._chunks[i] for i in ids if i in self._chunks}
        missing = [i for i in dict.fromkeys(ids) if i not in found]
        if missing:
            pks = {"{}:{}".format(*self._key(i)): i for i in missing}
            for batch in _batches(list(pks), GET_BATCH):
                for row in self.backend.client.get(
                    self.backend.chunks, ids=batch, output_fields=["pk", "chunk", "vector"]
                ):
                    data = dict(row["chunk"])
                    rows = data.pop("rows")
                    vector = np.asarray(row["vector"], dtype=np.float32)
                    found[pks[row["pk"]]] = (Chunk.from_dict(data), vector, rows)
            with self._lock:
                if len(self._chunks) + len(missing) > ROW_CACHE:
                    self._chunks.clear()
                self._chunks.update((i, found[i]) for i in missing)
        return [found[i] for i in ids]

    def fetch(self, ids: Sequence[int]) -> list[Chunk]:
        return [chunk for chunk, _, _ in self._rows(list(ids))]

    def chunk_vectors(self, ids: np.ndarray) -> np.ndarray:
        rows = self._rows(ids.tolist())
        if not rows:
            return np.zeros((0, int(self.manifest["dimension"])), dtype=np.float32)
        return np.stack([vector for _, vector, _ in rows])

    def sentence_vectors_of(self, ids: Sequence[int]) -> list[np.ndarray]:
        wanted = [
            [f"{self._key(i)[0]}:{row}" for row in rows]
            for i, (_, _, rows) in zip(ids, self._rows(list(ids)), strict=True)
        ]
        with self._lock:
            known = self._sentences
            found = {pk: known[pk] for pks in wanted for pk in pks if pk in known}
        missing = list(dict.fromkeys(pk for pks in wanted for pk in pks if pk not in found))
        for batch in _batches(missing, GET_BATCH):
            for row in self.backend.client.get(
                self.backend.sentences, ids=batch, output_fields=["pk", "vector"]
            ):
                found[row["pk"]] = np.asarray(row["vector"], dtype=np.float32).astype(np.float16)
        if missing:
            with self._lock:
                if len(self._sentences) + len(missing) > ROW_CACHE:
                    self._sentences.clear()
                self._sentences.update((pk, found[pk]) for pk in missing)
        dimension = int(self.manifest["dimension"])
        return [
            np.stack([found[pk] for pk in pks]) if pks else np.zeros((0, dimension), np.float16)
            for pks in wanted
        ]

    def lexicon(self) -> Lexicon:
        return Lexicon.from_bytes(self._blob("lexicon"))

    def document_rows(self, entry: dict[str, Any]) -> DocumentRows:
        first, last = entry["chunks"]
        s_first, s_last = entry["sentences"]
        rows = self._rows(list(range(first, last)))
        doc = entry["doc"]
        pks = [f"{doc}:{j}" for j in range(s_last - s_first)]
        vectors: dict[str, np.ndarray] = {}
        for batch in _batches(pks, GET_BATCH):
            for row in self.backend.client.get(
                self.backend.sentences, ids=batch, output_fields=["pk", "vector"]
            ):
                vectors[row["pk"]] = np.asarray(row["vector"], dtype=np.float32)
        dimension = int(self.manifest["dimension"])
        sentences = (
            np.stack([vectors[pk] for pk in pks]) if pks else np.zeros((0, dimension))
        ).astype(np.float16)
        return DocumentRows(
            [chunk for chunk, _, _ in rows], np.stack([v for _, v, _ in rows]), sentences
        )


def document_key(name: str, sha256: str, manifest: dict[str, Any]) -> str:
    """The key of one file's rows: its name and content under these chunking settings."""
    settings = [manifest[k] for k in ("format", "model", "chunking", "reader")]
    return hashlib.sha256(json.dumps([name, sha256, settings]).encode()).hexdigest()[:32]


def _documents(manifest: dict[str, Any] | None) -> set[str]:
    if manifest is None:
        return set()
    return {entry["doc"] for entry in manifest["files"].values() if "doc" in entry}


_cache_lock = threading.Lock()
_manifests: dict[tuple[str, str], dict[str, Any]] = {}  # (store, blob name) -> manifest
_clients: dict[str, Any] = {}


def _manifest(backend: MilvusBackend, name: str, parts: int, digest: str) -> dict[str, Any]:
    """The manifest blob ``name`` (read once per process: servers look every few seconds)."""
    key = (backend.location, name)
    with _cache_lock:
        found = _manifests.get(key)
    if found is None:
        found = json.loads(backend.read_blob(name, parts, digest))
        found["blob"] = name
        with _cache_lock:
            _manifests[key] = found
    return found


def _client(uri: str) -> Any:
    """One MilvusClient per server and process (it is thread-safe)."""
    try:
        from pymilvus import MilvusClient
    except ImportError:
        raise ValueError(
            "The Milvus store needs pymilvus: pip install 'qa-docs[milvus]'."
        ) from None
    with _cache_lock:
        if uri not in _clients:
            try:
                _clients[uri] = MilvusClient(uri=uri, timeout=TIMEOUT)
            except Exception as error:  # pymilvus raises its own exceptions
                raise OSError(f"cannot reach Milvus at {uri}: {error}") from None
        return _clients[uri]


_loaded: set[tuple[int, str]] = set()


def _load(client: Any, collection: str) -> None:
    """Load a collection for search and query once per client (Milvus needs it)."""
    if (id(client), collection) not in _loaded:
        client.load_collection(collection)
        _loaded.add((id(client), collection))


def _blob_row(name: str, part: int, data: bytes) -> dict[str, Any]:
    return {
        "pk": f"{name}:{part}",
        "name": name,
        "data": base64.b64encode(data).decode("ascii"),
        "vector": [1.0, 0.0],
    }


def _batches(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
