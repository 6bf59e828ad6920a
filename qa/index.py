"""The FAISS index on disk: build (incrementally), save atomically, load, detect staleness.

Layout of an index folder:
  manifest.json            what was built from what; written last, by atomic rename
  chunks-<hash>.json       the chunks (spans and text), in vector order
  vectors-<hash>.npy       their normalised embeddings (kept so unchanged files are not re-embedded)
  faiss-<hash>.index       the FAISS index over those vectors
Data files are named by content, so a crash mid-build leaves the previous manifest pointing at
complete files; a half-written index can never be loaded.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.chunking import Chunk, chunk_document
from qa.config import Settings
from qa.documents import (
    check_corpus_folder,
    corpus_files,
    document_from_bytes,
    file_sha256,
    no_documents_message,
    read_source,
)
from qa.embedding import Embedder
from qa.logs import Stopwatch

log = logging.getLogger(__name__)

FORMAT = 1
MANIFEST = "manifest.json"
# What reading a truncated, corrupt or hand-edited index can raise (then it is rebuilt).
DAMAGED = (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError)
EXACT_SEARCH_LIMIT = 50_000  # above this many chunks an HNSW graph replaces exact search


@dataclass
class Index:
    """A loaded index: chunks, their vectors and the FAISS structure searching them."""

    directory: Path
    manifest: dict[str, Any]
    chunks: list[Chunk]
    vectors: np.ndarray
    faiss: Any

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids) of the ``k`` nearest chunks to one normalised query vector."""
        k = min(k, len(self.chunks))
        scores, ids = self.faiss.search(query.reshape(1, -1).astype(np.float32), k)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]


def corpus_fingerprint(root: Path) -> dict[str, str]:
    """sha256 of every candidate file, by corpus-relative path (files that vanish are left out)."""
    return {
        path.relative_to(root).as_posix(): sha
        for path in corpus_files(root)
        if (sha := file_sha256(path)) is not None
    }


def stale_reason(manifest: dict[str, Any] | None, root: Path, settings: Settings) -> str | None:
    """Why the index must be rebuilt, or None when it matches corpus and settings."""
    if manifest is None:
        return "no index yet"
    reason = stale_settings(manifest, settings)
    if reason is not None:
        return reason
    if manifest.get("corpus") != str(root):
        return "corpus folder changed"
    old = {name: entry["sha256"] for name, entry in manifest.get("files", {}).items()}
    new = corpus_fingerprint(root)
    if old != new:
        changed = sorted(set(old) ^ set(new) | {n for n in set(old) & set(new) if old[n] != new[n]})
        return f"corpus changed ({len(changed)} file(s): {', '.join(changed[:3])})"
    return None


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
    chunks = [Chunk.from_dict(item) for item in json.loads(blobs["chunks"])]
    vectors = np.load(io.BytesIO(blobs["vectors"]), allow_pickle=False)
    index = faiss.deserialize_index(np.frombuffer(blobs["faiss"], dtype=np.uint8))
    if not (len(chunks) == vectors.shape[0] == index.ntotal):
        raise ValueError("chunks, vectors and FAISS index disagree in size")
    return Index(directory, manifest, chunks, vectors, index)


def make_faiss(vectors: np.ndarray) -> Any:
    """Exact inner-product search for small corpora, an HNSW graph for large ones."""
    import faiss

    dimension = vectors.shape[1]
    index: Any
    if len(vectors) <= EXACT_SEARCH_LIMIT:
        index = faiss.IndexFlatIP(dimension)
    else:
        index = faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 96
    index.add(vectors)
    return index


def build_index(settings: Settings, embedder: Embedder, previous: Index | None = None) -> Index:
    """Chunk and embed the corpus; chunks of files unchanged since ``previous`` are reused.

    Each file is read once: the checksum recorded is that of the bytes indexed, so a file
    that changes during the build is seen as changed by the next load. Files with identical
    content are indexed once (the first path in sorted order; the others are recorded as
    ``duplicate_of``) so that one passage does not fill two result slots or two citations.
    """
    import faiss

    timer = Stopwatch()
    root = check_corpus_folder(settings.corpus_dir)
    reusable: dict[str, tuple[str, list[Chunk], np.ndarray]] = {}
    if previous is not None and stale_settings(previous.manifest, settings) is None:
        for name, entry in previous.manifest["files"].items():
            if "duplicate_of" in entry:
                continue
            first, last = entry["chunks"]
            reusable[name] = (
                entry["sha256"],
                previous.chunks[first:last],
                previous.vectors[first:last],
            )

    files: dict[str, dict[str, Any]] = {}
    chunks: list[Chunk] = []
    parts: list[np.ndarray] = []
    pending: list[tuple[int, list[Chunk]]] = []  # (position in parts, chunks to embed)
    first_with: dict[str, str] = {}  # content sha256 -> first file indexed with it
    for path in corpus_files(root):
        name = path.relative_to(root).as_posix()
        data = read_source(path, root)
        sha = hashlib.sha256(data).hexdigest() if data is not None else file_sha256(path)
        timer.lap("load")
        if sha is None:
            continue  # vanished since the folder was listed
        record: dict[str, Any] = {"sha256": sha}
        if sha in first_with:
            log.info("%s has the same content as %s; indexed once", name, first_with[sha])
            record["duplicate_of"] = first_with[sha]
            doc_chunks = []
        elif name in reusable and reusable[name][0] == sha:
            doc_chunks, doc_vectors = reusable[name][1], reusable[name][2]
            parts.append(doc_vectors)
        else:
            document = document_from_bytes(name, data) if data is not None else None
            timer.lap("load")
            doc_chunks = (
                chunk_document(document, settings.chunk_words, settings.chunk_overlap)
                if document
                else []
            )
            timer.lap("chunk")
            pending.append((len(parts), doc_chunks))
            parts.append(np.zeros((0, embedder.dimension), dtype=np.float32))
        if doc_chunks:
            first_with.setdefault(sha, name)
        files[name] = {**record, "chunks": [len(chunks), len(chunks) + len(doc_chunks)]}
        chunks.extend(doc_chunks)
    if not chunks:
        raise FileNotFoundError(no_documents_message(root))

    to_embed = [chunk.embed_text() for _, group in pending for chunk in group]
    log.info("embedding %d of %d chunks", len(to_embed), len(chunks))
    fresh = embedder.encode(to_embed, progress=len(to_embed) > 256)
    offset = 0
    for position, group in pending:
        parts[position] = fresh[offset : offset + len(group)]
        offset += len(group)
    vectors = np.vstack(parts).astype(np.float32)
    timer.lap("embed")

    index = make_faiss(vectors)
    timer.lap("faiss")
    blobs = {
        "chunks": json.dumps([c.to_dict() for c in chunks], ensure_ascii=False).encode("utf-8"),
        "vectors": _npy_bytes(vectors),
        "faiss": faiss.serialize_index(index).tobytes(),
    }
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "model": settings.model,
        "dimension": int(vectors.shape[1]),
        "chunking": settings.chunking_key(),
        "corpus": str(root),
        "files": files,
        "n_chunks": len(chunks),
        "embedded_last_build": len(to_embed),
        "faiss_type": type(index).__name__,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "data": {},
        "checksums": {},
    }
    directory = settings.index_dir
    directory.mkdir(parents=True, exist_ok=True)
    suffix = {"chunks": "json", "vectors": "npy", "faiss": "index"}
    for role, blob in blobs.items():
        digest = hashlib.sha256(blob).hexdigest()
        name = f"{role}-{digest[:16]}.{suffix[role]}"
        _atomic_write(directory / name, blob)
        manifest["data"][role] = name
        manifest["checksums"][name] = digest
    _atomic_write(directory / MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))
    _remove_unreferenced(directory, manifest)
    timer.lap("write")
    log.info(
        "built index of %d chunks (%d embedded)",
        len(chunks),
        len(to_embed),
        extra={"chunks": len(chunks), "embedded": len(to_embed), **timer.fields()},
    )
    return Index(directory, manifest, chunks, vectors, index)


def stale_settings(manifest: dict[str, Any], settings: Settings) -> str | None:
    """Why vectors of ``manifest`` cannot be reused under ``settings`` (None: they can)."""
    if manifest.get("format") != FORMAT:
        return "index format changed"
    if manifest.get("model") != settings.model:
        return f"model changed ({manifest.get('model')} -> {settings.model})"
    if manifest.get("chunking") != settings.chunking_key():
        return "chunking settings changed"
    return None


def open_index(settings: Settings, embedder: Embedder, rebuild: bool = False) -> Index:
    """Load the index for ``settings``, building or refreshing it first when needed."""
    from filelock import FileLock

    root = check_corpus_folder(settings.corpus_dir)
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(settings.index_dir / ".lock"), timeout=600):
        manifest = read_manifest(settings.index_dir)
        previous: Index | None = None
        if manifest is not None:
            try:
                previous = load_index(settings.index_dir, manifest)
            except DAMAGED as error:
                log.warning("index in %s is damaged (%s); rebuilding", settings.index_dir, error)
                manifest = None
        reason = "rebuild requested" if rebuild else stale_reason(manifest, root, settings)
        if reason is None and previous is not None:
            return previous
        log.info("building index in %s: %s", settings.index_dir, reason)
        return build_index(settings, embedder, previous)


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, flush to disk, then rename over ``path``."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _remove_unreferenced(directory: Path, manifest: dict[str, Any]) -> None:
    """Delete data files of older builds and temporary files left by a killed build.

    Called under the index lock, so no other build is writing temporary files meanwhile.
    """
    keep = set(manifest["data"].values()) | {MANIFEST, ".lock"}
    for path in directory.iterdir():
        leftover = path.name.startswith(".") and path.name.endswith(".tmp")
        old = path.name.split("-")[0] in ("chunks", "vectors", "faiss")
        if path.is_file() and path.name not in keep and (leftover or old):
            path.unlink(missing_ok=True)
