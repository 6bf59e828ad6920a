"""Building an index and keeping it current: manifest, staleness, incremental updates.

Where a version is stored is the backend's business (qa/stores/): files and FAISS in the index
folder by default (qa/stores/faiss.py, which documents its layout), or a Milvus server.
"""

from __future__ import annotations

import hashlib
import logging
import time
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
from qa.lexical import LexicalRanker
from qa.lexicon import VERSION as LEXICON_VERSION
from qa.logs import Stopwatch
from qa.readers import keeps_text
from qa.stores import open_backend
from qa.stores.base import Backend, Built, IndexStore
from qa.stores.faiss import MANIFEST, Index, load_index, make_faiss, read_manifest

__all__ = [
    "MANIFEST",
    "READER",
    "Index",
    "build_index",
    "load_index",
    "make_faiss",
    "open_index",
    "read_manifest",
    "sentence_texts",
]

log = logging.getLogger(__name__)

FORMAT = 3  # 3: chunks, vectors and sentence vectors memory-mapped (qa/stores/faiss.py)
# Version of what a corpus reads as (loading, chunking, duplicate handling): bump it when a
# change gives the same files other chunks, so indexes built by older code are rebuilt
# rather than silently reused.
READER = 6  # 6: a Markdown fenced code block is read without its fence lines
# What reading a truncated, corrupt or hand-edited index can raise (then it is rebuilt).
DAMAGED = (OSError, ValueError, KeyError, TypeError, AttributeError, RuntimeError)


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
    reason = stale_vocabulary(manifest)
    if reason is not None:
        return reason
    old = {name: entry["sha256"] for name, entry in manifest.get("files", {}).items()}
    new = corpus_fingerprint(root, manifest.get("files"))
    if old != new:
        changed = sorted(set(old) ^ set(new) | {n for n in set(old) & set(new) if old[n] != new[n]})
        return f"corpus changed ({len(changed)} file(s): {', '.join(changed[:3])})"
    return None


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
    previous: IndexStore | None = None,
    progress: bool | None = None,
    backend: Backend | None = None,
) -> IndexStore:
    """Chunk and embed the corpus; files unchanged since ``previous`` reuse its vectors.

    Chunks and their distinct sentences are embedded in one pass (sorted by length inside
    the embedder); ``progress`` shows a bar (default: when more than 256 texts are new).
    Each file is read once: the checksum recorded is that of the bytes indexed, so a file
    that changes during the build is seen as changed by the next load. Files with identical
    content are indexed once (the first path in sorted order; the others are recorded as
    ``duplicate_of``) so that one passage does not fill two result slots or two citations.
    The new version is written by ``backend`` (default: the one ``settings`` name).
    """
    timer = Stopwatch()
    root = check_corpus_folder(settings.corpus_dir)
    reusable: dict[str, tuple[str, list[Chunk], np.ndarray, np.ndarray, dict[str, Any]]] = {}
    if previous is not None and stale_settings(previous.manifest, settings) is None:
        for name, entry in previous.manifest["files"].items():
            if "duplicate_of" in entry:
                continue
            rows = previous.document_rows(entry)
            reusable[name] = (
                entry["sha256"],
                rows.chunks,
                rows.vectors,
                rows.sentence_vectors,
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
    timer.lap("lexical")
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "model": settings.model,
        "dimension": int(vectors.shape[1]),
        "chunking": settings.chunking_key(),
        "reader": READER,
        "lexicon": LEXICON_VERSION,
        "corpus": str(root),
        "files": files,
        "n_chunks": len(chunks),
        "n_sentences": n_sentences,
        "embedded_last_build": len(passages),
        "sentences_embedded_last_build": len(sentences),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    backend = backend or open_backend(settings)
    index = backend.write(Built(manifest, chunks, vectors, sentence_vectors, lexical), previous)
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
    return index


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


def stale_vocabulary(manifest: dict[str, Any]) -> str | None:
    """Why the vocabulary of ``manifest`` is not the one this version keeps (None: it is)."""
    return "vocabulary format changed" if manifest.get("lexicon") != LEXICON_VERSION else None


def _check_read_only(
    manifest: dict[str, Any], settings: Settings, location: str, root: Path
) -> None:
    """A store this process only reads may hold a build of other settings or of an older
    version, which only `qa build` refreshes: vectors of another model cannot be compared with
    this one's (a ValueError says so); anything else is answered from as it is, with a warning
    (an older vocabulary misses a few word forms)."""
    refresh = f"`qa build {root} --store {settings.store}`"
    if manifest.get("model") != settings.model:
        raise ValueError(
            f"The index in {location} was built with the model {manifest.get('model')}, not "
            f"{settings.model}: set QA_MODEL to it, or rebuild the index with {refresh}."
        )
    reason = stale_settings(manifest, settings) or stale_vocabulary(manifest)
    if reason is not None:
        log.warning(
            "index in %s is out of date (%s): answering from it as it is; refresh it with %s",
            location,
            reason,
            refresh,
        )


def open_index(
    settings: Settings,
    embedder: Embedder,
    rebuild: bool = False,
    loaded: IndexStore | None = None,
    update: bool | None = None,
) -> IndexStore:
    """Load the index for ``settings``, building or refreshing it first when needed.

    ``loaded`` is an index this process already holds: when the store still holds the build
    it was loaded from, it is reused rather than read again, and returned as it is when the
    corpus has not changed (so a caller can tell "no change" by identity). ``update``: check
    the corpus folder and build when stale (default: for stores that follow their corpus,
    the index folder; a server store is only read here and written by ``qa build``).
    """
    backend = open_backend(settings)
    if update is None:
        update = backend.follows_corpus
    root = check_corpus_folder(settings.corpus_dir) if update else settings.corpus_dir
    with backend.lock():
        manifest = backend.read_manifest()
        previous: IndexStore | None = None
        if loaded is not None and manifest == loaded.manifest:
            previous = loaded
        elif manifest is not None and manifest.get("format") == FORMAT:  # else: rebuilt below
            try:
                previous = backend.load(manifest)
            except DAMAGED as error:
                log.warning("index in %s is damaged (%s); rebuilding", backend.location, error)
                manifest = None
        if not update:
            if previous is None:
                raise FileNotFoundError(
                    f"No index in {backend.location}: build it first with "
                    f"`qa build {root} --store {settings.store}`."
                )
            _check_read_only(previous.manifest, settings, backend.location, root)
            return previous
        reason = "rebuild requested" if rebuild else stale_reason(manifest, root, settings)
        if reason is None and previous is not None:
            return previous
        log.info("building index in %s: %s", backend.location, reason)
        return build_index(settings, embedder, previous, backend=backend)
