"""The index on disk survives corruption, a killed build and two builders at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from qa.config import Settings
from qa.embedding import get_embedder
from qa.index import MANIFEST, load_index, open_index, read_manifest
from tests.conftest import SEED_CORPUS

QA = str(Path(sys.executable).with_name("qa"))
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _settings(corpus: Path, tmp_path: Path) -> Settings:
    return Settings().with_overrides(corpus_dir=corpus, index_dir=tmp_path / "index")


def _add_copies(corpus: Path, copies: int) -> None:
    """``copies`` distinct variants of the seed corpus (20 chunks each): a build of some
    seconds, long enough to be interrupted or overlapped."""
    corpus.mkdir(exist_ok=True)
    for n in range(copies):
        for source in SEED_CORPUS.glob("*.txt"):
            text = source.read_text(encoding="utf-8")
            (corpus / f"copy{n:02d}-{source.name}").write_text(f"Copy {n} {text}", "utf-8")


@pytest.fixture
def built(small_corpus: Path, tmp_path: Path) -> Settings:
    settings = _settings(small_corpus, tmp_path)
    open_index(settings, get_embedder(settings.model))
    return settings


def _data_file(settings: Settings, role: str) -> Path:
    manifest = json.loads((settings.index_dir / MANIFEST).read_text(encoding="utf-8"))
    return settings.index_dir / manifest["data"][role]


@pytest.mark.parametrize("role", ["chunks", "rows", "vectors", "sentences", "faiss"])
def test_flipped_bytes_fail_the_checksum_and_are_rebuilt_with_the_reason_logged(
    built: Settings, caplog: pytest.LogCaptureFixture, role: str
) -> None:
    path = _data_file(built, role)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte wrong
    path.write_bytes(bytes(data))
    with caplog.at_level("INFO", logger="qa.index"):
        rebuilt = open_index(built, get_embedder(built.model))
    assert f"{path.name} does not match its checksum" in caplog.text
    assert "rebuilding" in caplog.text and "building index" in caplog.text
    assert rebuilt.manifest["embedded_last_build"] == rebuilt.manifest["n_chunks"]


@pytest.mark.parametrize(
    "manifest",
    ['{"format": 1, "data": []}', "[1, 2, 3]", "", '{"data": {"faiss": "../../etc/passwd"}}'],
    ids=["wrong-types", "not-an-object", "empty", "foreign-path"],
)
def test_hand_edited_or_empty_manifest_means_rebuild(
    built: Settings, caplog: pytest.LogCaptureFixture, manifest: str
) -> None:
    (built.index_dir / MANIFEST).write_text(manifest, encoding="utf-8")
    with caplog.at_level("INFO", logger="qa.index"):
        rebuilt = open_index(built, get_embedder(built.model))
    assert "building index" in caplog.text
    assert len(rebuilt.chunks) == rebuilt.manifest["n_chunks"] > 0


def test_files_left_by_a_crash_are_never_loaded_and_are_cleared_by_the_next_build(
    built: Settings,
) -> None:
    """What a build killed while writing leaves: temporary files and data files that no
    manifest names. The complete index the manifest names is what loads."""
    before = read_manifest(built.index_dir)
    assert before is not None
    litter = [
        built.index_dir / ".manifest.json.k1l2.tmp",
        built.index_dir / ".faiss-0123456789abcdef.index.x9.tmp",
        built.index_dir / "chunks-0123456789abcdef.json",
    ]
    for path in litter:
        path.write_bytes(b'{"half": ')
    loaded = open_index(built, get_embedder(built.model))
    assert loaded.manifest == before
    rebuilt = open_index(built, get_embedder(built.model), rebuild=True)
    assert not any(path.exists() for path in litter)
    assert len(rebuilt.chunks) == len(loaded.chunks)


def _wait_for(process: subprocess.Popen[str], text: str, seconds: float) -> list[str]:
    """stderr lines of ``process`` up to the first containing ``text`` (killed on timeout)."""
    assert process.stderr is not None
    watchdog = threading.Timer(seconds, process.kill)
    watchdog.start()
    lines: list[str] = []
    try:
        for line in process.stderr:
            lines.append(line)
            if text in line:
                return lines
    finally:
        watchdog.cancel()
    raise AssertionError(f"{text!r} never logged:\n{''.join(lines)}")


def test_build_killed_mid_way_leaves_the_previous_complete_index(
    small_corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(small_corpus, tmp_path)
    old = open_index(settings, get_embedder(settings.model))
    _add_copies(small_corpus, 10)  # about 200 new chunks: seconds of embedding
    process = subprocess.Popen(
        [QA, "build", str(small_corpus), "--index", str(settings.index_dir), "--log-level=INFO"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    try:
        _wait_for(process, "building index", 300)
        threading.Event().wait(0.5)  # into reading, chunking and embedding
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(60)
    assert process.returncode == -signal.SIGKILL

    manifest = read_manifest(settings.index_dir)
    assert manifest is not None and manifest["built_at"] == old.manifest["built_at"]
    survivor = load_index(settings.index_dir, manifest)  # every checksum still matches
    assert len(survivor.chunks) == len(old.chunks)
    with caplog.at_level("INFO", logger="qa.index"):
        fresh = open_index(settings, get_embedder(settings.model))
    assert "corpus changed (20 file(s)" in caplog.text
    assert len({chunk.source for chunk in fresh.chunks}) == 22
    assert not list(settings.index_dir.glob(".*.tmp"))


def test_two_processes_building_one_index_build_it_once(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    _add_copies(corpus, 10)
    index_dir = tmp_path / "index"
    command = [QA, "build", str(corpus), "--index", str(index_dir), "--log-level=INFO"]
    processes = [
        subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
        )
        for _ in range(2)
    ]
    results = [process.communicate(timeout=600) for process in processes]
    for process, (out, err) in zip(processes, results, strict=True):
        assert process.returncode == 0, err
        assert "20 file(s), " in out
    builders = [("building index" in err) for _, err in results]
    assert sorted(builders) == [False, True]  # the second waited, then loaded the first's
    manifest = read_manifest(index_dir)
    assert manifest is not None
    index = load_index(index_dir, manifest)
    assert len(index.chunks) == manifest["n_chunks"] == manifest["embedded_last_build"]
