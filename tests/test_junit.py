"""`qa check --junit-xml`: a report CI systems read, well-formed whatever the questions say.

Checked with xmllint (Debian's libxml2-utils: skipped locally when missing, a failure in CI,
where .ci/run installs it) and read back with junitparser, as a CI system would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml

from qa.chat import Chatbot
from qa.cli import main
from qa.config import Settings
from qa.junit import JunitCase, junit_xml

AWKWARD = r"""
- question: What is denervation?
  expect: ["loss of nerve supply"]
- question: 'What is "neurolysis" <b>&amp;</b> & why?'
  expect: ["made of cheese & <glass>"]
- question: "Qu'est-ce que la dénervation ? 神経 \x1b[31m\x00\x0b ]]> \ud83d\ude00"
  expect_any: ["\x1b[0m", "\x07"]
- question: What is the capital of France?
  abstain: true
- question: "   "
  error: true
- question: What is denervation?
  error: true
"""


def _xmllint(path: Path) -> subprocess.CompletedProcess[str]:
    if shutil.which("xmllint") is None:
        message = "xmllint is missing: apt-get install libxml2-utils"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return subprocess.run(
        ["xmllint", "--noout", str(path)], capture_output=True, text=True, timeout=60
    )


def test_junit_report_has_a_testcase_per_question(
    bot: Chatbot, seed_settings: Settings, tmp_path: Path
) -> None:
    questions = tmp_path / "awkward.yaml"
    questions.write_text(AWKWARD, encoding="utf-8")
    report = tmp_path / "report.xml"
    options = ["--corpus", str(seed_settings.corpus_dir), "--index", str(seed_settings.index_dir)]
    assert main(["check", str(questions), "--junit-xml", str(report), *options]) == 1

    lint = _xmllint(report)
    assert lint.returncode == 0, lint.stderr
    xml = JUnitXml.fromfile(str(report))
    assert (xml.tests, xml.failures, xml.errors) == (6, 3, 0)
    results = {case.name: case.result for suite in xml for case in suite}
    assert not results["What is denervation?"] and not results["'   '"]
    assert not results["What is the capital of France?"]
    failure = results['What is "neurolysis" <b>&amp;</b> & why?'][0]
    assert isinstance(failure, Failure)
    assert failure.message  # what is wrong, in one line
    assert "expected: all of ['made of cheese & <glass>']" in (failure.text or "")
    assert "got: " in (failure.text or "")
    assert isinstance(results["What is denervation?[2]"][0], Failure)


def test_junit_report_fails_an_answer_that_left_its_snapshot(
    bot: Chatbot, seed_settings: Settings, tmp_path: Path
) -> None:
    questions = tmp_path / "q.yaml"
    questions.write_text(
        "- question: What is neurolysis?\n- question: What is the capital of France?\n"
        "  abstain: true\n",
        encoding="utf-8",
    )
    shot, report = tmp_path / "shot.json", tmp_path / "report.xml"
    options = ["--corpus", str(seed_settings.corpus_dir), "--index", str(seed_settings.index_dir)]
    check = ["check", str(questions), "--snapshot", str(shot), *options]
    assert main([*check, "--update-snapshot"]) == 0
    recorded = json.loads(shot.read_text(encoding="utf-8"))
    recorded["What is neurolysis?"]["text"] = "an older answer"
    shot.write_text(json.dumps(recorded), encoding="utf-8")

    assert main([*check, "--junit-xml", str(report)]) == 1
    xml = JUnitXml.fromfile(str(report))
    assert (xml.tests, xml.failures) == (2, 1)
    failure = next(case.result[0] for suite in xml for case in suite if case.result)
    assert failure.message == "the answer differs from the snapshot"
    assert "CHANGED 'What is neurolysis?'" in (failure.text or "")
    assert "an older answer" in (failure.text or "")


def test_characters_xml_forbids_are_replaced(tmp_path: Path) -> None:
    text = "q \x00\x1b\x0b <&> \ud800 \ufffe é 神経 😀 ]]>"
    report = tmp_path / "raw.xml"
    report.write_bytes(junit_xml([JunitCase("a\x01.yaml", text, 0.5, text, text)], name="n"))
    lint = _xmllint(report)
    assert lint.returncode == 0, lint.stderr
    case = next(iter(next(iter(JUnitXml.fromfile(str(report))))))
    expected = "q #x00#x1B#x0B <&> #xD800 #xFFFE é 神経 😀 ]]>"
    assert case.name == expected
    assert case.result[0].message == expected and case.result[0].text == expected
