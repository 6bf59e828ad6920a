"""Shared fixtures: the real model and real FAISS indexes, loaded once per test session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from qa.chat import Chatbot  # noqa: E402
from qa.compose import Answer  # noqa: E402
from qa.config import PROJECT_ROOT, Settings  # noqa: E402

SEED_CORPUS = PROJECT_ROOT / "corpus"
CANNED = PROJECT_ROOT / "tests" / "canned"

pytest_plugins = ["pytester"]  # tests of the canned-question pytest plugin run pytest itself


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings over a private copy of the seed corpus, with its own index folder."""
    base = tmp_path_factory.mktemp("seed")
    corpus = base / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    return Settings().with_overrides(corpus_dir=corpus, index_dir=base / "index")


@pytest.fixture(scope="session")
def bot(seed_settings: Settings) -> Chatbot:
    """A Chatbot over the seed corpus (index built once for the session)."""
    return Chatbot.from_corpus(settings=seed_settings)


@pytest.fixture(scope="session")
def qa_settings(seed_settings: Settings) -> Settings:
    """The canned-question items (qa/pytest_plugin.py) ask over the same private seed copy."""
    return seed_settings


@pytest.fixture(scope="session")
def qa_snapshot() -> Path:
    """Each canned-question item's answer must match the one recorded here."""
    return CANNED / "snapshot.json"


@pytest.fixture
def conversation(bot: Chatbot) -> Chatbot:
    """A fresh conversation sharing the session's loaded index."""
    return bot.fork()


@pytest.fixture
def small_corpus(tmp_path: Path) -> Path:
    """A two-file corpus that a test may change freely."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "kettles.txt").write_text(
        "Kettle Care\n\nDescaling\n\nA kettle is descaled with white vinegar once a month. "
        "Rinse it twice afterwards.\n\nSafety\n\nNever fill a kettle above the maximum line.\n",
        encoding="utf-8",
    )
    (folder / "bread.md").write_text(
        "# Baking Bread\n\n## Proving\n\nDough proves for about an hour in a warm place "
        "until it doubles in size.\n",
        encoding="utf-8",
    )
    return folder


def one_file_corpus(tmp_path: Path, name: str, text: str) -> Path:
    """A corpus folder (tmp_path/docs) holding one file ``name`` with ``text``."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def ask_one_file(tmp_path: Path, name: str, text: str, question: str) -> Answer:
    """The answer to ``question`` over a corpus of one file ``name`` holding ``text``
    (indexed in tmp_path/index)."""
    return Chatbot.from_corpus(one_file_corpus(tmp_path, name, text), tmp_path / "index").ask(
        question
    )
