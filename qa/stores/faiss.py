"""The embedded default store: FAISS and the index's data files in one folder.

Layout of an index folder (format 3). A serving process does not hold the corpus in memory:
chunk texts and the rows of chunk and sentence vectors it needs are read from their files when
asked for (with pread: see RowFile), the row tables and the FAISS index are memory-mapped.
  manifest.json            what was built from what; written last, by atomic rename
  chunks-<hash>.txt        the chunks' texts as one UTF-8 blob, in vector order
  rows-<hash>.npy          int64, one row per chunk: source, title and section (rows of the
                           name tables), start, end, byte range of its text in the blob, and
                           the range of its sentences in spans-*.npy
  spans-<hash>.npy         int64, one row per chunk sentence: start, end, row of its vector
  names-<hash>.json        the name tables (sources, titles, sections), sorted
  lexicon-<hash>.json      the corpus vocabulary (qa/lexicon.py), so loading does not read
                           every chunk to make it
  vectors-<hash>.npy       the chunks' normalised embeddings (kept so unchanged files are not
                           re-embedded)
  sentences-<hash>.npy     float16 embeddings of each file's distinct chunk sentences, in order,
                           so the composer does not embed candidate sentences at question time
  bm25-<hash>.npz          the BM25 index of the chunks (built once, not at every load)
  faiss-<hash>.index       the FAISS index over the chunk vectors: exact (flat), or above
                           50,000 chunks an HNSW graph over float16 copies of them (it only
                           picks candidates: their scores come from vectors-*.npy)
  text-<src>-<hash>.json   the text read from each PDF, Word or web-page file (qa/kept.py); the
                           manifest's file entry names it ("kept") with its page starts ("pages")
Data files are named by content, so a crash mid-build leaves the previous manifest pointing at
complete files; a half-written index can never be loaded. Loading checks every file against
its sha256, read in blocks (no file is held in memory for it).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
from collections.abc import Iterator, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, overload

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
    "chunks": "txt",
    "rows": "npy",
    "spans": "npy",
    "names": "json",
    "lexicon": "json",
    "vectors": "npy",
    "sentences": "npy",
    "bm25": "npz",
    "faiss": "index",
}
# Columns of rows-*.npy.
SOURCE, TITLE, SECTION, START, END, TEXT_FROM, TEXT_TO, SPANS_FROM, SPANS_TO = range(9)


class RowFile:
    """Rows of a 2-D array in a .npy file, read with pread when asked for.

    Not through a memory map: a page fault on a mapped file maps its cached neighbours too
    (fault-around, 64 KB on Linux, whatever madvise says), so reading a few hundred scattered
    rows per question would soon make most of the file resident in the serving process.
    """

    def __init__(self, path: Path, array: np.ndarray) -> None:
        self.array = array  # the whole array, memory-mapped (or in memory when empty)
        mapped = isinstance(array, np.memmap) and array.flags.c_contiguous and array.ndim == 2
        self._file = path.open("rb") if mapped else None
        self._offset = array.offset if isinstance(array, np.memmap) else 0
        self._width = int(array.shape[1]) if array.ndim == 2 else 0
        self._row_bytes = array.dtype.itemsize * self._width

    def rows(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Rows ``ids`` (in that order), one read per run of consecutive ids."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(ids) and (ids.min() < 0 or ids.max() >= len(self.array)):
            raise IndexError(f"row {ids.max()} of {len(self.array)}")
        if self._file is None:
            return np.asarray(self.array[ids])
        out = np.empty((len(ids), self._width), dtype=self.array.dtype)
        starts = np.flatnonzero(np.diff(ids, prepend=-2) != 1).tolist() + [len(ids)]
        for first, last in zip(starts, starts[1:], strict=False):
            size = (last - first) * self._row_bytes
            data = os.pread(
                self._file.fileno(), size, self._offset + int(ids[first]) * self._row_bytes
            )
            if len(data) != size:
                raise ValueError(f"{self._file.name} ends before row {ids[last - 1]}")
            out[first:last] = np.frombuffer(data, dtype=self.array.dtype).reshape(-1, self._width)
        return out


class Chunks(Sequence[Chunk]):
    """The chunks of an index, made from its files when asked for (never all held at once)."""

    def __init__(
        self, names: tuple[tuple[str, ...], ...], rows: np.ndarray, spans: np.ndarray, text: Path
    ) -> None:
        self._sources, self._titles, self._sections = names
        self._rows = rows
        self._spans = spans
        self._text = text.open("rb")  # the UTF-8 blob, read by byte range

    def __len__(self) -> int:
        return int(self._rows.shape[0])

    @overload
    def __getitem__(self, i: int) -> Chunk: ...

    @overload
    def __getitem__(self, i: slice) -> list[Chunk]: ...

    def __getitem__(self, i: int | slice) -> Chunk | list[Chunk]:
        if isinstance(i, slice):
            return [self._chunk(n) for n in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        return self._chunk(i % len(self))

    def __iter__(self) -> Iterator[Chunk]:
        return (self._chunk(n) for n in range(len(self)))

    def _chunk(self, n: int) -> Chunk:
        row = self._rows[n].tolist()
        spans = self._spans[row[SPANS_FROM] : row[SPANS_TO], :2].tolist()
        return Chunk(
            source=self._sources[row[SOURCE]],
            title=self._titles[row[TITLE]],
            section=self._sections[row[SECTION]],
            start=row[START],
            end=row[END],
            text=self._read(row[TEXT_FROM], row[TEXT_TO]).decode("utf-8"),
            sentences=tuple((s, e) for s, e in spans),
        )

    def _read(self, start: int, end: int) -> bytes:
        data = os.pread(self._text.fileno(), end - start, start)
        if len(data) != end - start:
            raise ValueError(f"{self._text.name} ends before byte {end}")
        return data

    def sentence_rows(self, ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The rows of the sentence vectors of chunks ``ids`` (each chunk's in its sentence
        order, one after the other) and how many each chunk has."""
        rows = self._rows[np.asarray(ids, dtype=np.int64)]
        first, last = rows[:, SPANS_FROM], rows[:, SPANS_TO]
        counts = last - first
        spans = np.repeat(last - np.cumsum(counts), counts) + np.arange(int(counts.sum()))
        return np.asarray(self._spans[spans, 2]), counts


class Index:
    """A loaded index: chunks, their vectors, the FAISS and BM25 structures searching them.

    Chunks, chunk vectors and sentence vectors stay in their (memory-mapped) files and are
    read by id; only the name tables, the catalog's columns and BM25 are read into memory.
    """

    def __init__(
        self,
        directory: Path,
        manifest: dict[str, Any],
        chunks: Chunks,
        vectors: RowFile,
        sentence_vectors: RowFile,
        lexical: LexicalRanker,
        faiss: Any,
        lexicon_blob: bytes,
    ) -> None:
        self.directory = directory
        self.manifest = manifest
        self.chunks = chunks
        self._vectors = vectors
        self._sentence_vectors = sentence_vectors
        self.vectors = vectors.array  # float32, memory-mapped
        self.sentence_vectors = sentence_vectors.array  # float16, mapped, sentence_texts order
        self.lexical = lexical
        self.faiss = faiss
        self._lexicon_blob = lexicon_blob

    @cached_property
    def catalog(self) -> Catalog:
        c = self.chunks
        rows = c._rows
        return Catalog(
            c._sources,
            c._titles,
            c._sections,
            np.ascontiguousarray(rows[:, SOURCE], dtype=np.int32),
            np.ascontiguousarray(rows[:, TITLE], dtype=np.int32),
            np.ascontiguousarray(rows[:, SECTION], dtype=np.int32),
            np.ascontiguousarray(rows[:, START], dtype=np.int64),
            np.ascontiguousarray(rows[:, END], dtype=np.int64),
        )

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids) of the ``k`` nearest chunks to one normalised query vector."""
        k = min(k, len(self.chunks))
        scores, ids = self.faiss.search(query.reshape(1, -1).astype(np.float32), k)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def fetch(self, ids: Sequence[int]) -> list[Chunk]:
        return [self.chunks[int(i)] for i in ids]

    def chunk_vectors(self, ids: np.ndarray) -> np.ndarray:
        return self._vectors.rows(ids)

    def sentence_vectors_of(self, ids: Sequence[int]) -> list[np.ndarray]:
        """Each chunk's sentence vectors, read together (one pread per run of rows)."""
        if not len(ids):
            return []
        rows, counts = self.chunks.sentence_rows(ids)
        return np.split(self._sentence_vectors.rows(rows), np.cumsum(counts[:-1]))

    def lexicon(self) -> Lexicon:
        return Lexicon.from_bytes(self._lexicon_blob)

    def document_rows(self, entry: dict[str, Any]) -> DocumentRows:
        first, last = entry["chunks"]
        s_first, s_last = entry["sentences"]
        return DocumentRows(
            self.chunks[first:last],
            np.asarray(self.vectors[first:last]),
            np.asarray(self.sentence_vectors[s_first:s_last]),
        )


def make_faiss(vectors: np.ndarray, exact_limit: int = EXACT_SEARCH_LIMIT) -> Any:
    """Exact inner-product search up to ``exact_limit`` vectors; above it an HNSW graph over
    float16 copies of them (half the memory a server maps for it; the graph only picks the
    candidates, whose dense scores are computed from the float32 vectors)."""
    import faiss

    dimension = vectors.shape[1]
    index: Any
    if len(vectors) <= exact_limit:
        index = faiss.IndexFlatIP(dimension)
    else:
        index = faiss.index_factory(
            dimension, f"HNSW{HNSW_NEIGHBOURS},SQfp16", faiss.METRIC_INNER_PRODUCT
        )
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
        index.train(vectors)  # nothing to learn for float16; faiss asks for it all the same
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
            **chunk_files(built.chunks),
            "vectors": _npy_bytes(built.vectors),
            "sentences": _npy_bytes(built.sentence_vectors),
            "bm25": built.lexical.to_bytes(),
            "faiss": faiss.serialize_index(index).tobytes(),
        }
        del index
        manifest["data"], manifest["checksums"] = {}, {}
        for role, blob in blobs.items():
            digest = hashlib.sha256(blob).hexdigest()
            name = f"{role}-{digest[:16]}.{DATA_SUFFIX[role]}"
            atomic_write(self.directory / name, blob)
            manifest["data"][role] = name
            manifest["checksums"][name] = digest
        del blobs
        atomic_write(self.directory / MANIFEST, json.dumps(manifest, indent=1).encode("utf-8"))
        # Text kept for the previous build stays one more build, for citations made from it.
        earlier = kept.names_in(previous.manifest) if previous is not None else set()
        _remove_unreferenced(self.directory, manifest, earlier)
        return load_index(self.directory, manifest, verify=False)  # just written


def chunk_files(chunks: list[Chunk]) -> dict[str, bytes]:
    """The chunks as the files "chunks", "rows", "spans", "names" and "lexicon" hold them."""
    catalog = Catalog.of(chunks)
    texts = [chunk.text.encode("utf-8") for chunk in chunks]
    text_to = np.cumsum([len(t) for t in texts], dtype=np.int64)
    own = sentence_rows(chunks)
    spans_to = np.cumsum([len(r) for r in own], dtype=np.int64)
    spans = np.zeros((int(spans_to[-1]) if len(spans_to) else 0, 3), dtype=np.int64)
    if len(spans):
        spans[:, :2] = [span for chunk in chunks for span in chunk.sentences]
        spans[:, 2] = np.concatenate(own)
    rows = np.column_stack(
        [
            catalog.source_of,
            catalog.title_of,
            catalog.section_of,
            catalog.starts,
            catalog.ends,
            text_to - [len(t) for t in texts],
            text_to,
            spans_to - [len(r) for r in own],
            spans_to,
        ]
    ).astype(np.int64)
    names = [list(catalog.sources), list(catalog.titles), list(catalog.sections)]
    lexicon = Lexicon((c.embed_text() for c in chunks), (c.title for c in chunks))
    return {
        "chunks": b"".join(texts),
        "rows": _npy_bytes(rows.reshape(len(chunks), 9)),
        "spans": _npy_bytes(spans),
        "names": json.dumps(names, ensure_ascii=False).encode("utf-8"),
        "lexicon": lexicon.to_bytes(),
    }


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


def load_index(directory: Path, manifest: dict[str, Any], verify: bool = True) -> Index:
    """Open the files the manifest names, each checked against its recorded checksum first
    (``verify``), and their sizes against each other."""
    import faiss

    paths: dict[str, Path] = {}
    for role in DATA_SUFFIX:
        name = manifest["data"][role]
        if not isinstance(name, str) or Path(name).name != name:
            raise ValueError(f"data file {name!r} is not in the index folder")
        path = directory / name
        if verify:
            with path.open("rb") as file:
                digest = hashlib.file_digest(file, "sha256").hexdigest()
            if digest != manifest["checksums"][name]:
                raise ValueError(f"{name} does not match its checksum")
        paths[role] = path
    names = json.loads(paths["names"].read_bytes())
    if not (isinstance(names, list) and len(names) == 3):
        raise ValueError("name tables are not three lists")
    tables = tuple(tuple(str(n) for n in table) for table in names)
    rows = _open_npy(paths["rows"], np.int64)
    spans = _open_npy(paths["spans"], np.int64)
    vectors = _open_npy(paths["vectors"], np.float32)
    sentences = _open_npy(paths["sentences"], np.float16)
    text_bytes = paths["chunks"].stat().st_size
    lexical = LexicalRanker.from_bytes(paths["bm25"].read_bytes())
    index = faiss.read_index(str(paths["faiss"]), faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY)
    n = manifest.get("n_chunks")
    if not (rows.ndim == 2 and rows.shape[1] == 9 and spans.ndim == 2 and spans.shape[1] == 3):
        raise ValueError("chunk rows or sentence spans have the wrong shape")
    if not (n == rows.shape[0] == vectors.shape[0] == index.ntotal):
        raise ValueError("chunks, vectors and FAISS index disagree in size")
    if sentences.shape[0] != manifest.get("n_sentences"):
        raise ValueError("sentence vectors disagree with the manifest in size")
    if n and (
        int(rows[:, TEXT_TO].max()) > text_bytes
        or int(rows[:, SPANS_TO].max()) > len(spans)
        or any(int(rows[:, c].max()) >= len(tables[c]) for c in (SOURCE, TITLE, SECTION))
        or (len(spans) and int(spans[:, 2].max()) >= len(sentences))
    ):
        raise ValueError("chunk rows point outside the texts, spans or name tables")
    if isinstance(index, faiss.IndexHNSW):
        index.hnsw.efSearch = HNSW_EF_SEARCH
    chunks = Chunks(tables, rows, spans, paths["chunks"])
    lexicon = paths["lexicon"].read_bytes()
    return Index(
        directory,
        manifest,
        chunks,
        RowFile(paths["vectors"], vectors),
        RowFile(paths["sentences"], sentences),
        lexical,
        index,
        lexicon,
    )


def _open_npy(path: Path, dtype: type) -> np.ndarray:
    """A memory-mapped .npy array (read-only) of ``dtype``; in memory when it is empty."""
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError:  # numpy cannot map an array of no bytes
        array = np.load(path, allow_pickle=False)
    if array.dtype != dtype:
        raise ValueError(f"{path.name} holds {array.dtype}, not {np.dtype(dtype)}")
    return array


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _remove_unreferenced(
    directory: Path, manifest: dict[str, Any], also_keep: set[str] | None = None
) -> None:
    """Delete data files of older builds and temporary files left by a killed build.

    Called under the index lock, so no other build is writing temporary files meanwhile.
    A process that still has an older version open keeps reading its files (memory-mapped
    files stay readable after they are unlinked).
    """
    keep = set(manifest["data"].values()) | kept.names_in(manifest) | (also_keep or set())
    keep |= {MANIFEST, ".lock"}
    for path in directory.iterdir():
        leftover = path.name.startswith(".") and path.name.endswith(".tmp")
        old = path.name.split("-")[0] in DATA_SUFFIX or path.name.startswith(kept.PREFIX)
        if path.is_file() and path.name not in keep and (leftover or old):
            path.unlink(missing_ok=True)
