"""The canned-question regression suite, run on the real model and index."""

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


@pytest.fixture(scope="session")
def outcomes(bot: Chatbot) -> dict[str, list[canned.Outcome]]:
    """Every canned file run once for the session."""
    return {path.name: canned.run_cases(bot, canned.load_cases(path)) for path in FILES}


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_canned_question_passes(
    outcomes: dict[str, list[canned.Outcome]], path: Path
) -> None:
    results = outcomes[path.name]
    assert results
    failed = [o for o in results if not o.passed]
    assert not failed, canned.report(failed)


def test_suite_covers_what_people_ask(outcomes: dict[str, list[canned.Outcome]]) -> None:
    cases = [o.case for results in outcomes.values() for o in results]
    assert len(cases) >= 80
    assert sum(c.abstain for c in cases) >= 10
    assert sum(bool(c.after) for c in cases) >= 8
    assert sum(c.error for c in cases) >= 1


def test_answers_match_the_committed_snapshot(outcomes: dict[str, list[canned.Outcome]]) -> None:
    """Any change to any answer shows here as a diff; record it with --update-snapshot."""
    current = canned.snapshot_of([o for results in outcomes.values() for o in results])
    recorded = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert canned.snapshot_diff(recorded, current) == []


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
