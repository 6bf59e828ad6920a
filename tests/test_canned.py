"""The canned-question regression suite, run on the real model and index."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa import canned
from qa.chat import Chatbot
from tests.conftest import CANNED

FILES = sorted(CANNED.glob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_canned_question_passes(bot: Chatbot, path: Path) -> None:
    outcomes = canned.run_cases(bot, canned.load_cases(path))
    assert outcomes
    failed = [o for o in outcomes if not o.passed]
    assert not failed, canned.report(failed)


def test_a_wrong_expectation_fails(bot: Chatbot, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        "- question: What is denervation?\n  expect: ['made of cheese']\n"
        "- question: What is the capital of France?\n  expect: ['Paris']\n"
        "- question: What is neurolysis?\n  abstain: true\n"
        "- question: What is neurolysis?\n  source: denervation\n",
        encoding="utf-8",
    )
    outcomes = canned.run_cases(bot, canned.load_cases(wrong))
    assert [o.passed for o in outcomes] == [False, False, False, False]
    text = canned.report(outcomes)
    assert "0 passed, 4 failed" in text and "made of cheese" in text


def test_bad_canned_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- expect: ['x']\n", encoding="utf-8")
    with pytest.raises(ValueError, match="entry 1 has no 'question'"):
        canned.load_cases(bad)
