"""The FAISS index on disk: manifest, reuse, incremental rebuild, damage detection."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from qa.config import Settings
from qa.embedding import get_embedder
from qa.index import MANIFEST, READER, open_index
from qa.lexicon import VERSION as LEXICON_VERSION
from qa.lexicon import Lexicon
from qa.stores.base import IndexStore


def _settings(corpus: Path, tmp_path: Path) -> Settings:
    return Settings().with_overrides(corpus_dir=corpus, index_dir=tmp_path / "index")


def _reopened_after(
    corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture, edit: Callable[[dict], object]
) -> IndexStore:
    """The index of ``corpus`` built, its manifest changed by ``edit``, and opened again (the
    open's log in ``caplog``)."""
    settings = _settings(corpus, tmp_path)
    embedder = get_embedder(settings.model)
    open_index(settings, embedder)
    path = settings.index_dir / MANIFEST
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))
    with caplog.at_level("INFO", logger="qa.index"):
        return open_index(settings, embedder)


def test_build_writes_manifest_and_reuses_unchanged_index(
    small_corpus: Path, tmp_path: Path
) -> None:
    settings = _settings(small_corpus, tmp_path)
    embedder = get_embedder(settings.model)
    first = open_index(settings, embedder)
    manifest = json.loads((settings.index_dir / MANIFEST).read_text())
    assert manifest["model"] == settings.model
    assert manifest["chunking"] == settings.chunking_key()
    assert set(manifest["files"]) == {"kettles.txt", "bread.md"}
    assert manifest["embedded_last_build"] == manifest["n_chunks"] == len(first.chunks)
    again = open_index(settings, embedder)
    assert again.manifest["built_at"] == first.manifest["built_at"]  # not rebuilt
    kettles = small_corpus / "kettles.txt"
    stat = kettles.stat()
    assert manifest["files"]["kettles.txt"]["stamp"] == [stat.st_size, stat.st_mtime_ns]
    os.utime(kettles, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched, same text
    touched = open_index(settings, embedder)
    assert touched.manifest["built_at"] == first.manifest["built_at"]


def test_changed_file_reembeds_only_that_file(small_corpus: Path, tmp_path: Path) -> None:
    settings = _settings(small_corpus, tmp_path)
    embedder = get_embedder(settings.model)
    before = open_index(settings, embedder)
    bread_chunks = before.manifest["files"]["bread.md"]["chunks"]
    (small_corpus / "kettles.txt").write_text(
        "Kettle Care\n\nDescaling\n\nUse citric acid to descale a kettle.\n", encoding="utf-8"
    )
    after = open_index(settings, embedder)
    kettle_first, kettle_last = after.manifest["files"]["kettles.txt"]["chunks"]
    assert after.manifest["embedded_last_build"] == kettle_last - kettle_first
    assert after.manifest["embedded_last_build"] < after.manifest["n_chunks"]
    assert any("citric acid" in c.text for c in after.chunks)
    assert bread_chunks[1] - bread_chunks[0] == (
        after.manifest["files"]["bread.md"]["chunks"][1]
        - after.manifest["files"]["bread.md"]["chunks"][0]
    )
    kettle_sentences = after.manifest["files"]["kettles.txt"]["sentences"]
    assert (
        after.manifest["sentences_embedded_last_build"] == kettle_sentences[1] - kettle_sentences[0]
    )
    (small_corpus / "bread.md").unlink()
    removed = open_index(settings, embedder)
    assert removed.manifest["embedded_last_build"] == 0
    assert removed.manifest["sentences_embedded_last_build"] == 0
    assert set(removed.manifest["files"]) == {"kettles.txt"}
    (small_corpus / "tea.md").write_text(
        "# Tea\n\n## Brewing\n\nGreen tea brews at 80 degrees. Black tea wants boiling water.\n",
        encoding="utf-8",
    )
    added = open_index(settings, embedder)
    tea_first, tea_last = added.manifest["files"]["tea.md"]["chunks"]
    assert added.manifest["embedded_last_build"] == tea_last - tea_first == 1
    assert added.manifest["sentences_embedded_last_build"] == 2
    assert added.manifest["n_chunks"] == len(removed.chunks) + 1
    kept = added.manifest["files"]["kettles.txt"]["chunks"]
    assert np.array_equal(added.vectors[kept[0] : kept[1]], removed.vectors)  # reused as is


@pytest.mark.parametrize("damage", ["truncate", "delete", "garbage-manifest"])
def test_damaged_index_is_rebuilt(
    small_corpus: Path, tmp_path: Path, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(small_corpus, tmp_path)
    embedder = get_embedder(settings.model)
    built = open_index(settings, embedder)
    data = settings.index_dir / built.manifest["data"]["faiss"]
    if damage == "truncate":
        data.write_bytes(data.read_bytes()[:50])
    elif damage == "delete":
        data.unlink()
    else:
        (settings.index_dir / MANIFEST).write_text("{not json", encoding="utf-8")
    with caplog.at_level("INFO", logger="qa.index"):
        rebuilt = open_index(settings, embedder)
    assert rebuilt.manifest["embedded_last_build"] == rebuilt.manifest["n_chunks"]
    assert len(rebuilt.chunks) == len(built.chunks)
    assert "building index" in caplog.text


def test_changed_chunk_settings_trigger_rebuild(small_corpus: Path, tmp_path: Path) -> None:
    settings = _settings(small_corpus, tmp_path)
    embedder = get_embedder(settings.model)
    open_index(settings, embedder)
    smaller = settings.with_overrides(chunk_words=8)
    rebuilt = open_index(smaller, embedder)
    assert rebuilt.manifest["chunking"]["chunk_words"] == 8
    assert rebuilt.manifest["embedded_last_build"] == rebuilt.manifest["n_chunks"]


def test_index_from_older_reading_code_is_rebuilt(
    small_corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # as written before the reader version existed
    rebuilt = _reopened_after(small_corpus, tmp_path, caplog, lambda m: m.pop("reader"))
    assert "document reading or chunking changed" in caplog.text
    assert rebuilt.manifest["reader"] == READER
    assert rebuilt.manifest["embedded_last_build"] == rebuilt.manifest["n_chunks"]


def test_index_with_an_older_vocabulary_is_rebuilt_reusing_its_vectors(
    small_corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rebuilt = _reopened_after(small_corpus, tmp_path, caplog, lambda m: m.pop("lexicon"))
    assert "vocabulary format changed" in caplog.text
    assert rebuilt.manifest["lexicon"] == LEXICON_VERSION
    assert rebuilt.manifest["embedded_last_build"] == 0  # nothing embedded again


def test_words_with_digits_or_hyphens_are_the_corpus_own() -> None:
    """'COVID-19', 'HBoV1' and 'Wernicke-Korsakoff' are words the corpus uses: a question
    about them does not ask about something the documents lack. A vocabulary stored before
    it kept them still loads."""
    text = "COVID-19 and HBoV1 infections; Wernicke-Korsakoff syndrome is rare."
    lexicon = Lexicon([text])
    assert all(lexicon.uses(w) for w in ("covid-19", "hbov1", "wernicke-korsakoff", "rare"))
    assert not lexicon.uses("covid-20")
    assert Lexicon.from_bytes(lexicon.to_bytes()).uses("hbov1")
    older = json.loads(lexicon.to_bytes())
    del older["forms"]
    assert not Lexicon.from_bytes(json.dumps(older).encode()).uses("hbov1")


def test_missing_corpus_folder_says_what_to_do(tmp_path: Path) -> None:
    settings = _settings(tmp_path / "nowhere", tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        open_index(settings, get_embedder(settings.model))


def test_loaded_index_reads_chunks_and_vectors_from_its_files_on_demand(
    small_corpus: Path, tmp_path: Path
) -> None:
    """Format 3: vectors and sentence vectors are memory-mapped, chunks are made from the
    text blob and row tables when asked for, equal to the chunks the build made."""
    from qa.chunking import chunk_document
    from qa.documents import corpus_files, load_file
    from qa.stores.faiss import Chunks, load_index

    settings = _settings(small_corpus, tmp_path)
    built = open_index(settings, get_embedder(settings.model))
    loaded = load_index(settings.index_dir, built.manifest)
    assert isinstance(loaded.chunks, Chunks) and not isinstance(loaded.chunks, list)
    assert isinstance(loaded.vectors, np.memmap) and isinstance(loaded.sentence_vectors, np.memmap)
    expected = [
        chunk
        for path in corpus_files(small_corpus)
        for chunk in chunk_document(load_file(path, small_corpus))  # type: ignore[arg-type]
    ]
    assert list(loaded.chunks) == expected
    assert loaded.fetch([2, 0]) == [expected[2], expected[0]]
    assert loaded.chunks[-1] == expected[-1] and loaded.chunks[1:3] == expected[1:3]
    with pytest.raises(IndexError):
        loaded.chunks[len(expected)]
    rows = loaded.sentence_vectors_of([0])[0]
    assert rows.shape == (len(expected[0].sentences), loaded.manifest["dimension"])
    ids = np.array([2, 0, 1, 2, 1])  # read with pread, in runs of consecutive rows
    assert np.array_equal(loaded.chunk_vectors(ids), loaded.vectors[ids])
    assert np.array_equal(loaded.chunk_vectors(ids), built.chunk_vectors(ids))
    served = loaded.sentence_vectors_of(ids.tolist())
    for chunk_id, vectors in zip(ids.tolist(), served, strict=True):
        # sentence vectors are stored chunk after chunk, each chunk's in its sentence order
        first = sum(len(chunk.sentences) for chunk in expected[:chunk_id])
        own = range(first, first + len(expected[chunk_id].sentences))
        assert np.array_equal(vectors, loaded.sentence_vectors[own])
    with pytest.raises(IndexError):
        loaded.chunk_vectors(np.array([len(expected)]))


def test_index_of_an_older_format_is_rebuilt_with_the_reason_logged(
    small_corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # an index written before format 3
    rebuilt = _reopened_after(small_corpus, tmp_path, caplog, lambda m: m.update(format=2))
    assert "index format changed" in caplog.text
    assert rebuilt.manifest["format"] == 3
    assert rebuilt.manifest["embedded_last_build"] == rebuilt.manifest["n_chunks"]
