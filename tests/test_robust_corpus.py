"""Awkward corpora: legacy encodings, empty and binary files, duplicates, links, huge files,
files that change during a build, and folders with nothing to index."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from qa import Chatbot
from qa.cli import main
from qa.config import Settings
from qa.documents import (
    MAX_FILE_BYTES,
    corpus_files,
    file_sha256,
    load_corpus,
    load_file,
)
from qa.embedding import get_embedder
from qa.index import MANIFEST, open_index
from tests.conftest import ask_one_file, one_file_corpus

CAFE = "Café Notes\n\nThe café opens at dawn – “early birds” get déjà vu croissants.\n"
NERVES = (
    "Nerve Repair\n\nHealing\n\nA crushed nerve regrows slowly, about one millimetre a day, "
    "along its old sheath.\n"
)


def _settings(corpus: Path, tmp_path: Path) -> Settings:
    return Settings().with_overrides(corpus_dir=corpus, index_dir=tmp_path / "index")


def _warnings(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("cp1252", CAFE),
        ("latin-1", "Año Nuevo\n\nEl señor Muñoz está aquí con su niño.\n"),
        ("cp1251", "Денервация\n\nДенервация — это потеря нервного снабжения ткани.\n"),
        ("utf-16", CAFE),
        ("utf-8-sig", CAFE),
    ],
)
def test_legacy_encodings_are_decoded_and_named_in_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, encoding: str, text: str
) -> None:
    (tmp_path / "legacy.txt").write_bytes(text.encode(encoding))
    with caplog.at_level("WARNING", logger="qa"):
        [document] = load_corpus(tmp_path)
    assert document.text == text
    if encoding.startswith("utf-"):
        assert _warnings(caplog) == ""  # a byte-order mark says what the encoding is
    else:
        assert "legacy.txt is not UTF-8; decoded as" in _warnings(caplog)


def test_answer_from_a_cp1252_file_cites_its_decoded_text(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "cafe.txt").write_bytes(CAFE.encode("cp1252"))
    (corpus / "nerves.txt").write_text(NERVES, encoding="utf-8")
    bot = Chatbot.from_corpus(settings=_settings(corpus, tmp_path))
    answer = bot.ask("When does the café open?")
    assert not answer.abstained and answer.citations[0].source == "cafe.txt"
    citation = answer.citations[0]
    assert citation.quote == CAFE[citation.start : citation.end] and "dawn" in citation.quote


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("empty.txt", b"", "empty file"),
        ("blank.md", b" \n\t\n  \n", "empty file"),
        ("picture.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "binary"),
        ("noise.txt", bytes((i * 7919) % 255 + 1 for i in range(20_000)), "not text"),
    ],
)
def test_empty_and_binary_files_are_skipped_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, content: bytes, reason: str
) -> None:
    (tmp_path / name).write_bytes(content)
    (tmp_path / "good.txt").write_text(NERVES, encoding="utf-8")
    with caplog.at_level("WARNING", logger="qa"):
        documents = load_corpus(tmp_path)
    assert [d.source for d in documents] == ["good.txt"]
    assert f"skipping {name}: {reason}" in _warnings(caplog)


@pytest.mark.parametrize("kind", ["missing", "a-file", "empty", "only-unusable"])
def test_unusable_corpus_folder_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    folder = tmp_path / "docs"
    if kind == "a-file":
        folder.write_text("not a folder", encoding="utf-8")
    elif kind != "missing":
        folder.mkdir()
    if kind == "only-unusable":
        (folder / "empty.txt").write_bytes(b"")
        (folder / "image.png").write_bytes(b"\x89PNG")
    expected = {
        "missing": "does not exist. Create it and put .txt or .md files in it",
        "a-file": "is a file, not a folder. Point to the folder",
        "empty": "No usable documents in",
        "only-unusable": "No usable documents in",
    }[kind]
    with pytest.raises(FileNotFoundError, match=expected):
        load_corpus(folder)
    status = main(["build", str(folder), "--index", str(tmp_path / "index")])
    err = capsys.readouterr().err
    assert status == 2 and expected in err and "Traceback" not in err
    if kind in ("empty", "only-unusable"):
        assert "Add some" in err and "qa build" in err


def test_duplicate_files_are_indexed_once_and_the_copy_takes_over_when_the_first_goes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corpus = tmp_path / "docs"
    (corpus / "copies").mkdir(parents=True)
    (corpus / "a-nerves.txt").write_text(NERVES, encoding="utf-8")
    (corpus / "copies" / "nerves.txt").write_text(NERVES, encoding="utf-8")
    (corpus / "cafe.txt").write_text(CAFE, encoding="utf-8")
    settings = _settings(corpus, tmp_path)
    embedder = get_embedder(settings.model)
    with caplog.at_level("INFO", logger="qa.index"):
        index = open_index(settings, embedder)
    files = index.manifest["files"]
    assert files["copies/nerves.txt"]["duplicate_of"] == "a-nerves.txt"
    assert {c.source for c in index.chunks} == {"a-nerves.txt", "cafe.txt"}
    assert "copies/nerves.txt has the same content as a-nerves.txt" in caplog.text
    bot = Chatbot.from_corpus(settings=settings)
    answer = bot.ask("How fast does a crushed nerve regrow?")
    assert not answer.abstained
    assert len({(c.start, c.end) for c in answer.citations}) == len(answer.citations)
    assert {c.source for c in answer.citations} == {"a-nerves.txt"}

    (corpus / "a-nerves.txt").unlink()
    after = open_index(settings, embedder)
    assert "duplicate_of" not in after.manifest["files"]["copies/nerves.txt"]
    assert any(c.source == "copies/nerves.txt" for c in after.chunks)  # re-embedded, not lost


def test_links_leading_outside_the_corpus_are_not_followed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    corpus, outside = tmp_path / "docs", tmp_path / "private"
    corpus.mkdir()
    (outside / "folder").mkdir(parents=True)
    (outside / "secret.txt").write_text("Secret Plans\n\nThe vault code is 4711.\n", "utf-8")
    (outside / "folder" / "more.txt").write_text("More Secrets\n\nThe key is blue.\n", "utf-8")
    (corpus / "nerves.txt").write_text(NERVES, encoding="utf-8")
    (corpus / "secret.txt").symlink_to(outside / "secret.txt")
    (corpus / "linked-folder").symlink_to(outside / "folder", target_is_directory=True)
    (corpus / "inside-link.txt").symlink_to(corpus / "nerves.txt")  # inside: allowed
    with caplog.at_level("WARNING", logger="qa"):
        found = [p.relative_to(corpus.resolve()).as_posix() for p in corpus_files(corpus)]
    assert found == ["inside-link.txt", "nerves.txt"]
    assert "skipping secret.txt: symbolic link to a file outside the corpus" in caplog.text
    index = open_index(_settings(corpus, tmp_path), get_embedder())
    assert not any("vault" in c.text or "key is blue" in c.text for c in index.chunks)


@pytest.fixture
def huge_file(tmp_path: Path) -> Iterator[Path]:
    """A sparse file one byte over the size limit (no disk space or time to write it)."""
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "nerves.txt").write_text(NERVES, encoding="utf-8")
    path = corpus / "huge.txt"
    with path.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    yield path


def test_file_over_the_size_limit_is_skipped_in_bounded_memory(
    huge_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tracemalloc.start()
    try:
        with caplog.at_level("WARNING", logger="qa"):
            assert load_file(huge_file, huge_file.parent) is None
            digest = file_sha256(huge_file)  # the staleness check hashes it in blocks
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert digest is not None and peak < 2 * 2**20  # never the whole 20 MB in memory
    assert "skipping huge.txt: larger than the 20 MB limit; split it" in caplog.text


def test_skipped_huge_file_does_not_force_a_rebuild_on_every_load(
    huge_file: Path, tmp_path: Path
) -> None:
    settings = _settings(huge_file.parent, tmp_path)
    first = open_index(settings, get_embedder())
    assert first.manifest["files"]["huge.txt"]["chunks"] == [0, 0]
    again = open_index(settings, get_embedder())
    assert again.manifest["built_at"] == first.manifest["built_at"]


class _OnLog(logging.Handler):
    """Runs ``action`` once, at the moment a log message containing ``text`` is emitted: a
    real point inside a build at which a user could change the corpus."""

    def __init__(self, text: str, action: Callable[[], None]) -> None:
        super().__init__()
        self.text, self.action, self.fired = text, action, False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.fired and self.text in record.getMessage():
            self.fired = True
            self.action()


@pytest.fixture
def on_log() -> Iterator[Callable[[str, Callable[[], None]], _OnLog]]:
    logger = logging.getLogger("qa")
    added: list[_OnLog] = []
    level = logger.level
    logger.setLevel(logging.INFO)

    def add(text: str, action: Callable[[], None]) -> _OnLog:
        handler = _OnLog(text, action)
        logger.addHandler(handler)
        added.append(handler)
        return handler

    yield add
    for handler in added:
        logger.removeHandler(handler)
    logger.setLevel(level)


def test_file_deleted_during_the_build_is_skipped_not_fatal(
    tmp_path: Path, on_log: Callable[[str, Callable[[], None]], _OnLog]
) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "a-empty.txt").write_bytes(b"")  # read first; its warning is the moment
    (corpus / "b-nerves.txt").write_text(NERVES, encoding="utf-8")
    (corpus / "c-cafe.txt").write_text(CAFE, encoding="utf-8")
    hook = on_log("skipping a-empty.txt", (corpus / "b-nerves.txt").unlink)
    index = open_index(_settings(corpus, tmp_path), get_embedder())
    assert hook.fired
    assert set(index.manifest["files"]) == {"a-empty.txt", "c-cafe.txt"}
    assert {c.source for c in index.chunks} == {"c-cafe.txt"}


def test_file_changed_during_embedding_is_reindexed_on_the_next_load(
    tmp_path: Path,
    on_log: Callable[[str, Callable[[], None]], _OnLog],
    caplog: pytest.LogCaptureFixture,
) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "nerves.txt").write_text(NERVES, encoding="utf-8")
    (corpus / "cafe.txt").write_text(CAFE, encoding="utf-8")
    changed = CAFE.replace("dawn", "noon")
    hook = on_log("embedding", lambda: (corpus / "cafe.txt").write_text(changed, "utf-8"))
    settings = _settings(corpus, tmp_path)
    built = open_index(settings, get_embedder())
    assert hook.fired
    # What was indexed is what the manifest says was indexed: the content before the change.
    manifest = json.loads((settings.index_dir / MANIFEST).read_text(encoding="utf-8"))
    assert any("dawn" in c.text for c in built.chunks)
    assert manifest["files"]["cafe.txt"]["sha256"] != file_sha256(corpus / "cafe.txt")
    with caplog.at_level("INFO", logger="qa.index"):
        again = open_index(settings, get_embedder())
    assert "corpus changed (1 file(s): cafe.txt)" in caplog.text
    assert any("noon" in c.text for c in again.chunks)
    assert not any("dawn" in c.text for c in again.chunks)
    nerves_first, nerves_last = again.manifest["files"]["nerves.txt"]["chunks"]
    assert again.manifest["embedded_last_build"] == len(again.chunks) - (nerves_last - nerves_first)


def test_hidden_files_and_other_suffixes_are_ignored(tmp_path: Path) -> None:
    (tmp_path / ".hidden.txt").write_text(NERVES, encoding="utf-8")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "notes.md").write_text(NERVES, encoding="utf-8")
    (tmp_path / "data.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    (tmp_path / "folder.txt").mkdir()  # a folder named like a text file
    os.mkfifo(tmp_path / "pipe.txt")  # reading it would block forever
    (tmp_path / "real.md").write_text(NERVES, encoding="utf-8")
    assert [p.name for p in corpus_files(tmp_path)] == ["real.md"]


def test_markdown_table_is_indexed_in_seconds_and_answers(tmp_path: Path) -> None:
    """The rule line of a Markdown table (runs of dashes between pipes) once sent the acronym
    reading into exponential backtracking: `qa build` never finished. A real build in its own
    process (a hang fails the timeout instead of stalling the suite), then a question."""
    rule = "| " + " | ".join("-" * width for width in (16, 35, 47, 36)) + " |"
    corpus = one_file_corpus(
        tmp_path,
        "support.md",
        "# Supported platforms\n\n"
        "| Operating system | Architectures | Versions | Notes |\n"
        f"{rule}\n"
        "| GNU/Linux | x64, arm64 | kernel >= 4.18 | glibc >= 2.28 |\n\n"
        "## Long-term support (LTS)\n\n"
        "A long-term support (LTS) release receives security fixes for thirty months.\n",
    )
    script = Path(sys.executable).with_name("qa")
    options = ["--corpus", str(corpus), "--index", str(tmp_path / "index")]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    build = subprocess.run(
        [str(script), "build", *options], capture_output=True, text=True, timeout=300, env=env
    )
    assert build.returncode == 0, build.stderr
    bot = Chatbot.from_corpus(corpus, tmp_path / "index")
    assert bot.lexicon.acronyms == {"lts": "Long-term support"}
    answer = bot.ask("How long does an LTS release get security fixes?")
    assert not answer.abstained and "thirty months" in answer.text
    assert answer.citations[0].source == "support.md"


def test_hard_wrapped_justified_text_is_answered_in_single_spaces(tmp_path: Path) -> None:
    """A man page or a plain-text note wraps and justifies its lines: the answer reads its
    words with single spaces, while the citation still quotes the exact span of the file."""
    text = (
        "Kettle Manual\n\n"
        "Descaling\n\n"
        "       Descale  the  kettle  every  four  weeks  with  white  vinegar\n"
        "       and  water,  then  boil  it  twice  with  clean  water.\n"
    )
    answer = ask_one_file(tmp_path, "kettle.txt", text, "How often should I descale the kettle?")
    assert not answer.abstained
    quote = answer.citations[0].quote
    assert quote == text[answer.citations[0].start : answer.citations[0].end] and "  " in quote
    assert "Descale the kettle every four weeks with white vinegar and water" in answer.text
    assert "  " not in answer.text and "\n" not in answer.text


def test_a_label_run_into_a_paragraph_is_not_quoted(tmp_path: Path) -> None:
    """'Abstract: BACKGROUND: ...' opens a paragraph of an article as it comes: the labels head
    the text, so the quote (and its span) starts at the sentence after them."""
    text = (
        "Kettle scale in hard-water areas\n\n"
        "Abstract: BACKGROUND: Kettles in hard-water areas should be descaled with white "
        "vinegar once a month. Scale makes a kettle slower and louder.\n"
    )
    answer = ask_one_file(tmp_path, "kettle.txt", text, "How often should a kettle be descaled?")
    assert not answer.abstained
    first = answer.citations[0]
    assert first.quote.startswith("Kettles in hard-water areas should be descaled")
    assert first.quote == text[first.start : first.end]
    assert "Abstract" not in answer.text and "BACKGROUND" not in answer.text
