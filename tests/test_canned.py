"""The canned-question format, runner and reports, on the real model and index.

Every question of tests/canned/*.yaml is its own test, collected by the pytest plugin
(qa/pytest_plugin.py) and compared with tests/canned/snapshot.json (pyproject.toml's
qa_canned_files and qa_snapshot); the plugin itself is tested in test_pytest_plugin.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa import canned
from qa.chat import Chatbot
from qa.cli import main
from qa.config import Settings
from tests.conftest import CANNED

FILES = sorted(CANNED.glob("*.yaml"))
SNAPSHOT = CANNED / "snapshot.json"


@pytest.fixture(scope="module")
def cases() -> list[canned.Case]:
    return [case for path in FILES for case in canned.load_cases(path)]


def test_suite_covers_what_people_ask(cases: list[canned.Case]) -> None:
    assert len(cases) >= 80
    assert sum(c.abstain for c in cases) >= 10
    assert sum(bool(c.after) for c in cases) >= 8
    assert sum(c.error for c in cases) >= 1


def test_snapshot_records_every_canned_question_and_no_other(cases: list[canned.Case]) -> None:
    """Each item compares its own answer; this catches entries left from removed questions."""
    recorded = canned.read_snapshot(SNAPSHOT)
    assert sorted(recorded) == sorted({canned.case_key(case) for case in cases})


def test_case_names_are_unique_readable_node_ids() -> None:
    cases = [
        canned.Case("What is X?"),
        canned.Case("What is X?"),
        canned.Case("How is it done?", after=("What is X?",)),
        canned.Case(""),
        canned.Case("   "),
        canned.Case("What is std::vector [C++]?"),
    ]
    assert canned.case_names(cases) == [
        "What is X?",
        "What is X?[2]",
        "What is X? / How is it done?",
        "''",
        "'   '",
        "What is std:vector (C++)?",
    ]


def test_a_wrong_expectation_fails(bot: Chatbot, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        "- question: What is denervation?\n  expect: ['made of cheese']\n"
        "- question: What is the capital of France?\n  expect: ['Paris']\n"
        "- question: What is neurolysis?\n  abstain: true\n"
        "- question: What is neurolysis?\n  source: denervation\n"
        "- question: What is neurolysis?\n  error: true\n",
        encoding="utf-8",
    )
    results = canned.run_cases(bot, canned.load_cases(wrong))
    assert [o.passed for o in results] == [False] * 5
    text = canned.report(results)
    assert "0 passed, 5 failed" in text and "made of cheese" in text


def test_bad_canned_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- expect: ['x']\n", encoding="utf-8")
    with pytest.raises(ValueError, match="entry 1 has no 'question'"):
        canned.load_cases(bad)
    bad.write_text("- question: x\n  expcet: ['typo']\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown keys"):
        canned.load_cases(bad)


def test_snapshot_records_and_shows_changed_answers(
    seed_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    questions = tmp_path / "q.yaml"
    questions.write_text("- question: What is neurolysis?\n", encoding="utf-8")
    shot = tmp_path / "shot.json"
    options = ["--corpus", str(seed_settings.corpus_dir), "--index", str(seed_settings.index_dir)]
    assert (
        main(["check", str(questions), "--snapshot", str(shot), "--update-snapshot", *options]) == 0
    )
    assert main(["check", str(questions), "--snapshot", str(shot), *options]) == 0
    assert "answers match snapshot" in capsys.readouterr().out
    recorded = json.loads(shot.read_text(encoding="utf-8"))
    recorded["What is neurolysis?"]["text"] = "an older answer"
    shot.write_text(json.dumps(recorded), encoding="utf-8")
    assert main(["check", str(questions), "--snapshot", str(shot), *options]) == 1
    out = capsys.readouterr().out
    assert "CHANGED 'What is neurolysis?'" in out and "an older answer" in out
