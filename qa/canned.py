"""Canned questions: the file format, the runner that checks answers, and the report.

A canned-question file is a YAML list; each entry has
  question:   what a person types
  expect:     phrases that must all appear in the answer text (case-insensitive)
  expect_any: at least one of these phrases must appear
  source:     a substring of the file name or title that the first citation points at
  abstain:    true when the documents do not answer: the bot must say so and cite nothing
  after:      earlier questions asked first in the same conversation (follow-ups)
  error:      true when the question is invalid (blank): asking must raise ValueError
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from qa.junit import JunitCase

if TYPE_CHECKING:  # only for annotations: loading a file must not import the model's stack
    from qa.chat import Chatbot
    from qa.compose import Answer

KEYS = {"question", "expect", "expect_any", "source", "abstain", "after", "error", "note"}


@dataclass(frozen=True)
class Case:
    question: str
    expect: tuple[str, ...] = ()
    expect_any: tuple[str, ...] = ()
    source: str = ""
    abstain: bool = False
    after: tuple[str, ...] = ()
    error: bool = False
    note: str = ""


@dataclass
class Outcome:
    case: Case
    passed: bool
    problems: list[str] = field(default_factory=list)
    answer: dict[str, Any] | None = None
    seconds: float = 0.0  # time to ask the question and its `after` questions


def case_key(case: Case) -> str:
    """The case's earlier questions and question joined by " / ": its key in a snapshot."""
    return " / ".join([*case.after, case.question])


def case_names(cases: list[Case]) -> list[str]:
    """A readable, unique name for each case of one file, usable as a pytest node id.

    The name is the case's key; a blank or unprintable one is shown as its Python repr;
    "[" "]" become "(" ")" and "::" becomes ":" (pytest reads those in ids); a repeated name
    gets "[2]", "[3]", ... as pytest does for parameters.
    """
    names = []
    seen: Counter[str] = Counter()
    for case in cases:
        name = case_key(case)
        if not name.strip() or name != name.strip() or not name.isprintable():
            name = repr(name)
        name = name.replace("[", "(").replace("]", ")").replace("::", ":")
        seen[name] += 1
        names.append(name if seen[name] == 1 else f"{name}[{seen[name]}]")
    return names


def load_cases(path: str | Path) -> list[Case]:
    """Parse and validate a canned-question YAML file; errors name the entry at fault."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"Cannot read canned questions from {path}: {error}") from None
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a YAML list of entries with a 'question' each.")
    cases = []
    for number, entry in enumerate(data, 1):
        if not isinstance(entry, dict) or "question" not in entry:
            raise ValueError(f"{path}: entry {number} has no 'question'.")
        unknown = set(entry) - KEYS
        if unknown:
            raise ValueError(f"{path}: entry {number} has unknown keys {sorted(unknown)}.")

        def listed(key: str, entry: dict[str, Any] = entry) -> tuple[str, ...]:
            value = entry.get(key) or ()
            return (str(value),) if isinstance(value, str) else tuple(str(v) for v in value)

        cases.append(
            Case(
                question=str(entry["question"] if entry["question"] is not None else ""),
                expect=listed("expect"),
                expect_any=listed("expect_any"),
                source=str(entry.get("source") or ""),
                abstain=bool(entry.get("abstain", False)),
                after=listed("after"),
                error=bool(entry.get("error", False)),
                note=str(entry.get("note") or ""),
            )
        )
    return cases


def check_answer(case: Case, answer: Answer) -> list[str]:
    """What is wrong with ``answer`` for ``case`` (empty when it passes)."""
    problems: list[str] = []
    text = answer.text.lower()
    if case.abstain:
        if not answer.abstained or answer.citations:
            problems.append("expected the bot to say the documents do not cover this")
        return problems
    if answer.abstained:
        return ["the bot abstained but the documents answer this"]
    missing = [phrase for phrase in case.expect if phrase.lower() not in text]
    if missing:
        problems.append(f"missing {missing}")
    if case.expect_any and not any(phrase.lower() in text for phrase in case.expect_any):
        problems.append(f"none of {list(case.expect_any)}")
    if case.source:
        first = answer.citations[0] if answer.citations else None
        wanted = case.source.lower()
        if first is None or (
            wanted not in first.source.lower() and wanted not in first.title.lower()
        ):
            problems.append(f"first citation is not from {case.source!r}")
    return problems


def run_case(bot: Chatbot, case: Case) -> Outcome:
    """Ask ``case`` in a fresh conversation (after its ``after`` questions) and check it."""
    started = time.perf_counter()
    outcome = _ask_and_check(bot, case)
    outcome.seconds = time.perf_counter() - started
    return outcome


def _ask_and_check(bot: Chatbot, case: Case) -> Outcome:
    conversation = bot.fork()
    for earlier in case.after:
        conversation.ask(earlier)
    try:
        answer = conversation.ask(case.question)
    except ValueError as error:
        if case.error:
            return Outcome(case, True, [], {"error": str(error)})
        return Outcome(case, False, [f"raised ValueError: {error}"])
    if case.error:
        return Outcome(case, False, ["expected ValueError, got an answer"], answer.to_dict())
    problems = check_answer(case, answer)
    return Outcome(case, not problems, problems, answer.to_dict())


def run_cases(bot: Chatbot, cases: list[Case]) -> list[Outcome]:
    return [run_case(bot, case) for case in cases]


def report(outcomes: list[Outcome], verbose: bool = False) -> str:
    """A readable pass/fail report: failures in full, passes in one line each."""
    lines = []
    for number, outcome in enumerate(outcomes, 1):
        case = outcome.case
        mark = "PASS" if outcome.passed else "FAIL"
        lines.append(f"{mark} {number:3d}. {case.question!r}")
        if outcome.passed and not verbose:
            continue
        lines.extend(f"      {line}" for line in details(outcome))
    passed = sum(o.passed for o in outcomes)
    lines.append(f"\n{passed} passed, {len(outcomes) - passed} failed")
    return "\n".join(lines)


def details(outcome: Outcome) -> list[str]:
    """What was expected, what the bot answered, what it cited and what is wrong."""
    lines = [f"expected: {_expected(outcome.case)}"]
    answer = outcome.answer or {}
    if "error" in answer:
        lines.append(f"got error: {answer['error']}")
    elif answer:
        lines.append(f"got: {answer['text']}")
        for citation in answer["citations"][:3]:
            where = f"{citation['source']} [{citation['start']}:{citation['end']}]"
            lines.append(f"[{citation['n']}] {where} {citation['section'] or citation['title']}")
    lines.extend(f"problem: {problem}" for problem in outcome.problems)
    return lines


def what_is_wrong(outcome: Outcome, changes: list[str]) -> str:
    """One line for a failure: the problems, and whether the answer left its snapshot."""
    snapshot = ["the answer differs from the snapshot"] if changes else []
    return "; ".join(outcome.problems + snapshot)


def _expected(case: Case) -> str:
    if case.error:
        return "a ValueError"
    if case.abstain:
        return "the documents do not cover this"
    parts = []
    if case.expect:
        parts.append(f"all of {list(case.expect)}")
    if case.expect_any:
        parts.append(f"any of {list(case.expect_any)}")
    if case.source:
        parts.append(f"first citation from {case.source!r}")
    return "; ".join(parts) or "an answer"


def outcomes_json(outcomes: list[Outcome]) -> str:
    """The report as JSON, one object per case."""
    return json.dumps(
        [
            {"case": asdict(o.case), "passed": o.passed, "problems": o.problems, "answer": o.answer}
            for o in outcomes
        ],
        indent=1,
        ensure_ascii=False,
    )


def junit_cases(
    files: dict[str, list[Case]], outcomes: list[Outcome], recorded: dict[str, Any] | None = None
) -> list[JunitCase]:
    """One JUnit test per question, named as pytest names it, failing with its explanation.

    ``outcomes`` are those of the cases of ``files`` in order; with ``recorded`` (a snapshot),
    a question whose answer changed fails too, with the difference.
    """
    results = iter(outcomes)
    tests = []
    for path, cases in files.items():
        for name, outcome in zip(case_names(cases), results, strict=False):
            changes = snapshot_changes(recorded, outcome) if recorded is not None else []
            failed = not outcome.passed or bool(changes)
            tests.append(
                JunitCase(
                    suite=path,
                    name=name,
                    seconds=outcome.seconds,
                    failure="\n".join(details(outcome) + changes) if failed else None,
                    message=what_is_wrong(outcome, changes) if failed else "",
                )
            )
    return tests


def snapshot_of(outcomes: list[Outcome]) -> dict[str, Any]:
    """Question -> answer text and cited spans: what a snapshot file records."""
    shot: dict[str, Any] = {}
    for outcome in outcomes:
        answer = outcome.answer or {}
        shot[case_key(outcome.case)] = {
            "text": answer.get("text", answer.get("error", "")),
            "citations": [
                f"{c['source']}:{c['start']}-{c['end']}" for c in answer.get("citations", [])
            ],
        }
    return shot


def read_snapshot(path: Path) -> dict[str, Any]:
    """A snapshot file's recorded answers; a missing file says how to record one."""
    if not path.is_file():
        raise FileNotFoundError(f"No snapshot at {path}: record one with --update-snapshot.")
    shot: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return shot


def write_snapshot(path: Path, shot: dict[str, Any]) -> None:
    """Record ``shot`` at ``path`` (UTF-8 JSON, one key per question)."""
    path.write_text(json.dumps(shot, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def snapshot_changes(recorded: dict[str, Any], outcome: Outcome) -> list[str]:
    """How ``outcome``'s answer differs from its entry in ``recorded`` (empty when equal)."""
    key = case_key(outcome.case)
    return snapshot_diff({key: recorded[key]} if key in recorded else {}, snapshot_of([outcome]))


def snapshot_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Human-readable differences between two snapshots."""
    lines = []
    for key in sorted(set(old) | set(new)):
        if old.get(key) == new.get(key):
            continue
        lines.append(f"CHANGED {key!r}")
        lines.append(f"   was: {json.dumps(old.get(key), ensure_ascii=False)}")
        lines.append(f"   now: {json.dumps(new.get(key), ensure_ascii=False)}")
    return lines
