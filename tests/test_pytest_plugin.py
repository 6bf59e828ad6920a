"""The canned-question pytest plugin (qa/pytest_plugin.py), run by pytest itself (pytester).

The inner runs ask the real model and index: the same seed copy as the `bot` fixture, which
they share, since a process loads each corpus's index once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qa import canned
from qa.chat import Chatbot
from qa.config import Settings
from tests.conftest import CANNED

RIGHT_AND_WRONG = """\
- question: What is neurolysis?
  expect: ["nerve"]
  source: neurolysis
- question: What is denervation?
  expect: ["made of cheese"]
"""


def _corpus(settings: Settings) -> list[str]:
    return ["--qa-corpus", str(settings.corpus_dir), "--qa-index", str(settings.index_dir)]


def test_each_canned_question_is_an_item(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--collect-only", "-q", str(CANNED))
    expected = [
        f"tests/canned/{path.name}::{name}"
        for path in sorted(CANNED.glob("*.yaml"))
        for name in canned.case_names(canned.load_cases(path))
    ]
    listed = [line for line in result.outlines if "::" in line]
    assert listed == expected
    assert len(set(listed)) == len(listed) >= 100
    result.stdout.fnmatch_lines([f"{len(expected)} tests collected*"])


def test_a_wrong_expectation_fails_only_its_item(
    pytester: pytest.Pytester, bot: Chatbot, seed_settings: Settings
) -> None:
    pytester.makefile(".yaml", wrong=RIGHT_AND_WRONG)  # named explicitly: any name collects
    result = pytester.runpytest("wrong.yaml", *_corpus(seed_settings))
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*_ What is denervation? _*",
            "missing ['made of cheese']",
            "expected: all of ['made of cheese']",
            "got: Denervation is *",
            "[[]1] denervation.txt *",
            "problem: missing ['made of cheese']",
            "FAILED wrong.yaml::What is denervation? - missing ['made of cheese']",
        ]
    )
    assert "Traceback" not in result.stdout.str()

    rerun = pytester.runpytest("wrong.yaml", "--lf", *_corpus(seed_settings))
    rerun.assert_outcomes(failed=1, deselected=1)


def test_files_are_collected_by_pattern_not_every_yaml(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", my_questions="- question: What is neurolysis?\n")
    pytester.makefile(".yml", **{".gitlab-ci": "test:\n  script: make test\n"})
    pytester.makefile(".yaml", config="debug: true\n")
    (pytester.path / "suites").mkdir()
    (pytester.path / "suites" / "first.yaml").write_text("- question: What is X?\n")

    result = pytester.runpytest("--collect-only", "-q")
    assert [line for line in result.outlines if "::" in line] == [
        "my_questions.yaml::What is neurolysis?"
    ]

    pytester.makepyprojecttoml('[tool.pytest.ini_options]\nqa_canned_files = ["suites/*.yaml"]\n')
    result = pytester.runpytest("--collect-only", "-q")
    assert [line for line in result.outlines if "::" in line] == ["suites/first.yaml::What is X?"]


def test_a_malformed_file_is_one_clear_collection_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", bad_questions="- question: fine\n- expect: ['x']\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["*ERROR collecting bad_questions.yaml*", "*bad_questions.yaml: entry 2 has no 'question'."]
    )
    assert "Traceback" not in result.stdout.str()


def test_snapshot_per_item_and_merged_updates(
    pytester: pytest.Pytester, bot: Chatbot, seed_settings: Settings
) -> None:
    """A conftest.py names the corpus and snapshot (as tests/conftest.py does); options win."""
    pytester.makeconftest(
        f"""
        from pathlib import Path

        import pytest

        from qa.config import Settings


        @pytest.fixture(scope="session")
        def qa_settings():
            return Settings().with_overrides(
                corpus_dir={str(seed_settings.corpus_dir)!r},
                index_dir={str(seed_settings.index_dir)!r},
            )


        @pytest.fixture(scope="session")
        def qa_snapshot():
            return Path(__file__).parent / "shot.json"
        """
    )
    pytester.makefile(
        ".yaml",
        questions=(
            "- question: What is neurolysis?\n"
            "- question: How is it performed?\n  after: ['What is cryoneurolysis?']\n"
        ),
    )
    shot = pytester.path / "shot.json"
    result = pytester.runpytest("--qa-update-snapshot")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([f"qa: 2 answers recorded in snapshot {shot}"])
    keys = ["What is neurolysis?", "What is cryoneurolysis? / How is it performed?"]
    recorded = json.loads(shot.read_text(encoding="utf-8"))
    assert list(recorded) == keys

    recorded["What is neurolysis?"]["text"] = "an older answer"
    shot.write_text(json.dumps(recorded), encoding="utf-8")
    pytester.runpytest("-k", "performed").assert_outcomes(passed=1, deselected=1)

    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "the answer differs from the snapshot",
            "CHANGED 'What is neurolysis?'",
            '   was: {"text": "an older answer"*',
        ]
    )

    other = pytester.path / "other.json"  # --qa-snapshot beats the conftest's file
    pytester.runpytest("--qa-snapshot", "other.json", "--qa-update-snapshot", "-k", "performed")
    assert list(json.loads(other.read_text(encoding="utf-8"))) == keys[1:]

    del recorded[keys[1]]
    shot.write_text(json.dumps(recorded), encoding="utf-8")
    pytester.runpytest("-k", "performed", "--qa-update-snapshot").assert_outcomes(
        passed=1, deselected=1
    )
    merged = json.loads(shot.read_text(encoding="utf-8"))
    assert merged[keys[0]]["text"] == "an older answer"  # not run: kept
    assert merged[keys[1]] == json.loads(other.read_text(encoding="utf-8"))[keys[1]]


def test_collecting_imports_nothing_heavy(tmp_path: Path) -> None:
    """With the plugin installed, unrelated runs and collection never load the model stack."""
    (tmp_path / "my_questions.yaml").write_text("- question: What is neurolysis?\n")
    heavy = ["numpy", "torch", "faiss", "onnxruntime", "sentence_transformers", "qa.chat"]
    code = (
        "import sys, pytest\n"
        "code = pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider'])\n"
        f"print('loaded:', [m for m in {heavy!r} if m in sys.modules])\n"
        "sys.exit(code)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "my_questions.yaml::What is neurolysis?" in run.stdout
    assert "loaded: []" in run.stdout
