"""Documents added, changed and removed while the chatbot runs (qa/refresh.py)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest

from qa.chat import Chatbot
from qa.config import Settings
from tests.made_files import FORMATS

KETTLES = (
    "Kettle Care\n\nDescaling\n\nA kettle is descaled with white vinegar once a month. "
    "Rinse it twice afterwards.\n"
)
KETTLES_CHANGED = KETTLES.replace("once a month", "every second week")


def _settings(corpus: Path, tmp_path: Path, refresh: float = 0) -> Settings:
    return Settings().with_overrides(
        corpus_dir=corpus, index_dir=tmp_path / "index", refresh_seconds=refresh
    )


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(FORMATS / "neurolysis.pdf", folder)
    return folder


def test_a_second_from_corpus_sees_a_file_added_since(corpus: Path, tmp_path: Path) -> None:
    first = Chatbot.from_corpus(settings=_settings(corpus, tmp_path))
    assert first.ask("How often is a kettle descaled?").abstained
    (corpus / "kettles.txt").write_text(KETTLES, encoding="utf-8")
    second = Chatbot.from_corpus(settings=_settings(corpus, tmp_path))
    answer = second.ask("How often is a kettle descaled?")
    assert "once a month" in answer.text and answer.citations[0].source == "kettles.txt"
    # the first bot shares the refreshed index: the same process, the same corpus
    assert "once a month" in first.ask("How often is a kettle descaled?").text


def test_running_bot_follows_added_changed_and_removed_files(corpus: Path, tmp_path: Path) -> None:
    bot = Chatbot.from_corpus(settings=_settings(corpus, tmp_path))
    assert not bot.live.refresh()  # nothing changed: the same index is kept
    before = bot.retriever.index

    (corpus / "kettles.txt").write_text(KETTLES, encoding="utf-8")
    assert bot.live.refresh()
    manifest = bot.retriever.index.manifest
    assert manifest["embedded_last_build"] == len(
        [c for c in bot.retriever.index.chunks if c.source == "kettles.txt"]
    )  # only the new file was embedded
    assert "once a month" in bot.ask("How often is a kettle descaled?").text

    (corpus / "kettles.txt").write_text(KETTLES_CHANGED, encoding="utf-8")
    assert bot.live.refresh()
    assert "every second week" in bot.ask("How often is a kettle descaled?").text

    (corpus / "kettles.txt").unlink()
    assert bot.live.refresh()
    assert bot.ask("How often is a kettle descaled?").abstained
    assert before is not bot.retriever.index
    assert set(bot.retriever.index.manifest["files"]) == {"neurolysis.pdf"}


def test_background_check_picks_up_a_new_file_within_seconds(corpus: Path, tmp_path: Path) -> None:
    bot = Chatbot.from_corpus(settings=_settings(corpus, tmp_path, refresh=0.2))
    conversation = bot.fork()
    conversation.ask("What is cryoneurolysis?")
    (corpus / "kettles.html").write_text(
        "<h1>Kettle Care</h1><h2>Descaling</h2><p>"
        + KETTLES.split("\n\n")[2]
        + "</p><script>alert(1)</script>",
        encoding="utf-8",
    )
    deadline = time.monotonic() + 120
    while "kettles.html" not in bot.retriever.index.manifest["files"]:
        assert time.monotonic() < deadline, "the new file was not indexed in time"
        time.sleep(0.2)
    answer = conversation.ask("How often is a kettle descaled?")
    assert "once a month" in answer.text and answer.citations[0].source == "kettles.html"
    follow = conversation.ask("What is cryoneurolysis?")  # the conversation goes on
    assert follow.citations[0].source == "neurolysis.pdf" and follow.citations[0].page == 1


def test_answers_during_refreshes_each_come_from_one_index(corpus: Path, tmp_path: Path) -> None:
    bot = Chatbot.from_corpus(settings=_settings(corpus, tmp_path))
    answers = []
    problems: list[BaseException] = []
    stop = threading.Event()

    def ask_repeatedly() -> None:
        conversation = bot.fork()
        try:
            while not stop.is_set():
                answers.append(conversation.answer("How often is a kettle descaled?"))
        except BaseException as error:  # noqa: BLE001 - reported below
            problems.append(error)

    asker = threading.Thread(target=ask_repeatedly)
    asker.start()
    try:
        for text in (KETTLES, KETTLES_CHANGED, None, KETTLES):
            path = corpus / "kettles.txt"
            if text is None:
                path.unlink()
            else:
                path.write_text(text, encoding="utf-8")
            bot.live.refresh()
    finally:
        stop.set()
        asker.join(60)
    assert not problems and answers
    for answer in answers:  # every quote is a version of the file, whole, never a mixture
        for c in answer.citations:
            assert c.quote in KETTLES or c.quote in KETTLES_CHANGED


def test_refresh_failure_keeps_the_previous_index(
    corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    bot = Chatbot.from_corpus(settings=_settings(corpus, tmp_path, refresh=0.01))
    (corpus / "neurolysis.pdf").unlink()  # nothing usable left: a rebuild would fail
    with pytest.raises(FileNotFoundError, match="No usable documents"):
        bot.live.refresh()
    time.sleep(0.05)
    with caplog.at_level("WARNING", logger="qa.refresh"):
        answer = bot.ask("What is cryoneurolysis?")  # starts a background check that fails
        deadline = time.monotonic() + 30
        while "answering from the previous one" not in caplog.text:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert not answer.abstained and answer.citations[0].source == "neurolysis.pdf"
