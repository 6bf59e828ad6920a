"""The FAISS index on disk: build (incrementally), save atomically, load, detect staleness.

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
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa import kept
from qa.chunking import Chunk, chunk_document
from qa.config import Settings
from qa.documents import (
    Document,
    check_corpus_folder,
    corpus_files,
    file_sha256,
    no_documents_message,
    read_document,
    read_source,
)
from qa.embedding import Embedder
from qa.files import atomic_write
from qa.lexical import LexicalRanker
from qa.logs import Stopwatch
from qa.readers import keeps_text

log = logging.getLogger(__name__)

FORMAT = 2
# Version of what a corpus reads as (loading, chunking, duplicate handling): bump it when a
# change gives the same files other chunks, so indexes built by older code are rebuilt
# rather than silently reused.
READER = 5
MANIFEST = "manifest.json"
# What reading a truncated, corrupt or hand-edited index can raise (then it is rebuilt).
DAMAGED = (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError)
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

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids) of the ``k`` nearest chunks to one normalised query vector."""
        k = min(k, len(self.chunks))
        scores, ids = self.faiss.search(query.reshape(1, -1).astype(np.float32), k)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]


def file_stamp(path: Path) -> list[int]:
    """[size, mtime in ns]: a file whose stamp is unchanged is not read again to be hashed."""
    status = path.stat()
    return [status.st_size, status.st_mtime_ns]


def corpus_fingerprint(root: Path, known: dict[str, Any] | None = None) -> dict[str, str]:
    """sha256 of every candidate file, by corpus-relative path (files that vanish are left out).

    ``known`` (a manifest's "files") supplies the hash of files whose size and modification
    time match its record, so checking a 10,000-file corpus does not read every file.
    """
    known = known or {}
    hashes: dict[str, str] = {}
    for path in corpus_files(root):
        name = path.relative_to(root).as_posix()
        entry = known.get(name)
        try:
            same = entry is not None and entry.get("stamp") == file_stamp(path)
        except OSError:
            continue  # vanished since the folder was listed
        sha = entry["sha256"] if same and entry is not None else file_sha256(path)
        if sha is not None:
            hashes[name] = sha
    return hashes


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
    new = corpus_fingerprint(root, manifest.get("files"))
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


def sentence_texts(chunks: list[Chunk]) -> list[str]:
    """The distinct sentences of ``chunks``, per file in first-seen order (as the composer
    slices them from a passage: the file text of the sentence's span)."""
    seen: set[tuple[str, int, int]] = set()
    texts: list[str] = []
    for chunk in chunks:
        for start, end in chunk.sentences:
            if (chunk.source, start, end) not in seen:
                seen.add((chunk.source, start, end))
                texts.append(chunk.text[start - chunk.start : end - chunk.start])
    return texts


def build_index(
    settings: Settings,
    embedder: Embedder,
    previous: Index | None = None,
    exact_limit: int = EXACT_SEARCH_LIMIT,
    progress: bool | None = None,
) -> Index:
    """Chunk and embed the corpus; files unchanged since ``previous`` reuse its vectors.

    Chunks and their distinct sentences are embedded in one pass (sorted by length inside
    the embedder); ``progress`` shows a bar (default: when more than 256 texts are new).
    Each file is read once: the checksum recorded is that of the bytes indexed, so a file
    that changes during the build is seen as changed by the next load. Files with identical
    content are indexed once (the first path in sorted order; the others are recorded as
    ``duplicate_of``) so that one passage does not fill two result slots or two citations.
    """
    import faiss

    timer = Stopwatch()
    root = check_corpus_folder(settings.corpus_dir)
    reusable: dict[str, tuple[str, list[Chunk], np.ndarray, np.ndarray, dict[str, Any]]] = {}
    if previous is not None and stale_settings(previous.manifest, settings) is None:
        for name, entry in previous.manifest["files"].items():
            if "duplicate_of" in entry:
                continue
            first, last = entry["chunks"]
            s_first, s_last = entry["sentences"]
            reusable[name] = (
                entry["sha256"],
                previous.chunks[first:last],
                previous.vectors[first:last],
                previous.sentence_vectors[s_first:s_last],
                {key: entry[key] for key in ("kept", "pages", "skipped") if key in entry},
            )
    directory = settings.index_dir
    directory.mkdir(parents=True, exist_ok=True)

    files: dict[str, dict[str, Any]] = {}
    chunks: list[Chunk] = []
    n_sentences = 0
    parts: list[list[np.ndarray]] = []  # per file: [chunk vectors, sentence vectors]
    pending: list[tuple[int, list[Chunk], list[str]]] = []  # (file position, chunks, sentences)
    first_with: dict[str, str] = {}  # content sha256 -> first file indexed with it
    for path in corpus_files(root):
        name = path.relative_to(root).as_posix()
        try:
            stamp = file_stamp(path)  # before reading: a later change then shows in the stamp
        except OSError:
            continue  # vanished since the folder was listed
        data = read_source(path, root)
        sha = hashlib.sha256(data).hexdigest() if data is not None else file_sha256(path)
        timer.lap("load")
        if sha is None:
            continue
        record: dict[str, Any] = {"sha256": sha, "stamp": stamp}
        doc_sentences = 0
        if sha in first_with:
            log.info("%s has the same content as %s; indexed once", name, first_with[sha])
            record["duplicate_of"] = first_with[sha]
            doc_chunks: list[Chunk] = []
        elif name in reusable and reusable[name][0] == sha:
            _, doc_chunks, doc_vectors, doc_sentence_vectors, extra = reusable[name]
            record.update(extra)
            parts.append([doc_vectors, doc_sentence_vectors])
            doc_sentences = len(doc_sentence_vectors)
        else:
            document = _read(name, data, record) if data is not None else None
            if document is not None and keeps_text(name):
                record["kept"] = kept.save(directory, document)
                if document.pages:
                    record["pages"] = list(document.pages)
            timer.lap("load")
            doc_chunks = (
                chunk_document(document, settings.chunk_words, settings.chunk_overlap)
                if document
                else []
            )
            timer.lap("chunk")
            texts = sentence_texts(doc_chunks)
            pending.append((len(parts), doc_chunks, texts))
            parts.append([])
            doc_sentences = len(texts)
        if doc_chunks:
            first_with.setdefault(sha, name)
        files[name] = {
            **record,
            "chunks": [len(chunks), len(chunks) + len(doc_chunks)],
            "sentences": [n_sentences, n_sentences + doc_sentences],
        }
        chunks.extend(doc_chunks)
        n_sentences += doc_sentences
    if not chunks:
        raise FileNotFoundError(no_documents_message(root))

    passages = [chunk.embed_text() for _, group, _ in pending for chunk in group]
    sentences = [text for _, _, texts in pending for text in texts]
    log.info(
        "embedding %d of %d chunks and %d sentences", len(passages), len(chunks), len(sentences)
    )
    show = progress if progress is not None else len(passages) + len(sentences) > 256
    fresh = embedder.encode(passages + sentences, progress=show)
    fresh_passages, fresh_sentences = fresh[: len(passages)], fresh[len(passages) :]
    offset = sentence_offset = 0
    for position, group, texts in pending:
        parts[position] = [
            fresh_passages[offset : offset + len(group)],
            fresh_sentences[sentence_offset : sentence_offset + len(texts)],
        ]
        offset += len(group)
        sentence_offset += len(texts)
    vectors = np.vstack([part[0] for part in parts]).astype(np.float32)
    sentence_vectors = np.vstack([part[1] for part in parts]).astype(np.float16)
    timer.lap("embed")
    lexical = LexicalRanker.build([chunk.embed_text() for chunk in chunks])
    index = make_faiss(vectors, exact_limit)
    timer.lap("faiss")
    blobs = {
        "chunks": json.dumps([c.to_dict() for c in chunks], ensure_ascii=False).encode("utf-8"),
        "vectors": _npy_bytes(vectors),
        "sentences": _npy_bytes(sentence_vectors),
        "bm25": lexical.to_bytes(),
        "faiss": faiss.serialize_index(index).tobytes(),
    }
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "model": settings.model,
        "dimension": int(vectors.shape[1]),
        "chunking": settings.chunking_key(),
        "reader": READER,
        "corpus": str(root),
        "files": files,
        "n_chunks": len(chunks),
        "n_sentences": n_sentences,
        "embedded_last_build": len(passages),
        "sentences_embedded_last_build": len(sentences),
        "faiss_type": type(index).__name__,
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "data": {},
        "checksums": {},
    }
    for role, blob in blobs.items():
        digest = hashlib.sha256(blob).hexdigest()
        name = f"{role}-{digest[:16]}.{DATA_SUFFIX[role]}"
        atomic_write(directory / name, blob)
        manifest["data"][role] = name
        manifest["checksums"][name] = digest
    atomic_write(directory / MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))
    # Text kept for the previous build stays one more build, for citations made from it.
    earlier = kept.names_in(previous.manifest) if previous is not None else set()
    _remove_unreferenced(directory, manifest, earlier)
    timer.lap("write")
    log.info(
        "built index of %d chunks (%d chunks, %d sentences embedded)",
        len(chunks),
        len(passages),
        len(sentences),
        extra={
            "chunks": len(chunks),
            "embedded": len(passages),
            "sentences_embedded": len(sentences),
            **timer.fields(),
        },
    )
    return Index(directory, manifest, chunks, vectors, sentence_vectors, lexical, index)


def _read(name: str, data: bytes, record: dict[str, Any]) -> Document | None:
    """The file's document, or None with a warning and the reason noted in its ``record``
    (the chat page lists files that were not read, and why)."""
    from qa.readers import Unreadable

    try:
        return read_document(name, data)
    except Unreadable as problem:
        log.warning("skipping %s: %s", name, problem)
        record["skipped"] = str(problem)
        return None


def stale_settings(manifest: dict[str, Any], settings: Settings) -> str | None:
    """Why vectors of ``manifest`` cannot be reused under ``settings`` (None: they can)."""
    if manifest.get("format") != FORMAT:
        return "index format changed"
    if manifest.get("model") != settings.model:
        return f"model changed ({manifest.get('model')} -> {settings.model})"
    if manifest.get("chunking") != settings.chunking_key():
        return "chunking settings changed"
    if manifest.get("reader") != READER:
        return "document reading or chunking changed"
    return None


def open_index(
    settings: Settings, embedder: Embedder, rebuild: bool = False, loaded: Index | None = None
) -> Index:
    """Load the index for ``settings``, building or refreshing it first when needed.

    ``loaded`` is an index this process already holds: when the folder still holds the build
    it was loaded from, it is reused rather than read again, and returned as it is when the
    corpus has not changed (so a caller can tell "no change" by identity).
    """
    from filelock import FileLock

    root = check_corpus_folder(settings.corpus_dir)
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(settings.index_dir / ".lock"), timeout=600):
        manifest = read_manifest(settings.index_dir)
        previous: Index | None = None
        if loaded is not None and manifest == loaded.manifest:
            previous = loaded
        elif manifest is not None and manifest.get("format") == FORMAT:  # else: rebuilt below
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
