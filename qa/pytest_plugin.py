"""pytest plugin: every question of a canned-question YAML file is its own test item.

Installed with the package (entry point `pytest11`, plugin name `qa`; `-p no:qa` turns it off),
so `pytest my_questions.yaml` checks each question as `qa check` does, and -k, -x, --lf,
--junit-xml and every CI integration see one test per question.

Files collected: any .yaml/.yml file named on the command line, and files under the collected
folders (testpaths) whose path ends like a pattern of the ini option `qa_canned_files`
(default `*questions*.yaml *questions*.yml`; `tests/canned/*.yaml` matches those files).

Corpus: the `qa_settings` fixture, which is the QA_* settings (`settings_from_env`) unless a
conftest.py overrides it, with `--qa-corpus` and `--qa-index` on top. The model and index are
loaded once per session (the `qa_bot` fixture); each item asks in a fresh `bot.fork()`.

Snapshots: with `--qa-snapshot FILE`, else the file the `qa_snapshot` fixture names (none
unless a conftest.py overrides it), an item also fails when its answer differs from the one
recorded under its key; `--qa-update-snapshot` records the answers of the items run, merged
into the file (the other entries are kept).

Nothing heavy is imported until an item runs: collecting reads YAML only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from qa import canned
from qa.config import Settings, settings_from_env

if TYPE_CHECKING:
    from qa.chat import Chatbot

DEFAULT_PATTERNS = ["*questions*.yaml", "*questions*.yml"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("qa", "canned questions (qa-docs)")
    group.addoption("--qa-corpus", metavar="DIR", help="corpus folder for canned questions")
    group.addoption("--qa-index", metavar="DIR", help="index folder for canned questions")
    group.addoption(
        "--qa-snapshot",
        metavar="FILE",
        help="fail a canned question whose answer differs from the one recorded in FILE",
    )
    group.addoption(
        "--qa-update-snapshot",
        action="store_true",
        help="record the answers of the canned questions run into the snapshot file",
    )
    parser.addini(
        "qa_canned_files",
        "path endings of canned-question files to collect",
        type="args",
        default=DEFAULT_PATTERNS,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_SNAPSHOTS] = {}


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> CannedFile | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    patterns = parent.config.getini("qa_canned_files")
    if parent.session.isinitpath(file_path) or any(map(file_path.match, patterns)):
        return CannedFile.from_parent(parent, path=file_path)
    return None


def pytest_sessionfinish(session: pytest.Session) -> None:
    for snapshot in session.config.stash[_SNAPSHOTS].values():
        snapshot.save()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for snapshot in terminalreporter.config.stash[_SNAPSHOTS].values():
        if snapshot.answers:
            terminalreporter.write_line(
                f"qa: {len(snapshot.answers)} answers recorded in snapshot {snapshot.path}"
            )


@pytest.fixture(scope="session")
def qa_settings() -> Settings:
    """The corpus and index canned items use: QA_* variables, else the defaults.

    Override this fixture in a conftest.py to give the items under it another corpus;
    --qa-corpus and --qa-index still win.
    """
    return settings_from_env()


@pytest.fixture(scope="session")
def qa_snapshot() -> Path | None:
    """The snapshot file canned items compare with: none, unless a conftest.py overrides this.

    --qa-snapshot FILE still wins.
    """
    return None


@pytest.fixture(scope="session")
def qa_bot(qa_settings: Settings, pytestconfig: pytest.Config) -> Chatbot:
    """The session's Chatbot: the model and index load once, when the first item runs."""
    from qa.chat import Chatbot

    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):  # as the qa command: offline
        os.environ.setdefault(variable, "1")
    settings = qa_settings.with_overrides(
        corpus_dir=pytestconfig.getoption("qa_corpus"),
        index_dir=pytestconfig.getoption("qa_index"),
    )
    try:
        return Chatbot.from_corpus(settings=settings)
    except (ValueError, OSError) as error:  # a missing corpus: say what, not where
        message = f"qa: {error}"
    pytest.fail(message, pytrace=False)  # outside `except`: no chained traceback


class CannedFile(pytest.File):
    """A canned-question YAML file; a bad entry is a collection error naming it."""

    def collect(self) -> Iterator[CannedItem]:
        try:
            cases = canned.load_cases(self.path)
        except ValueError as error:
            raise self.CollectError(str(error)) from None
        for name, case in zip(canned.case_names(cases), cases, strict=True):
            yield CannedItem.from_parent(self, name=name, case=case)


def _canned_item_fixtures(qa_bot: Chatbot, qa_snapshot: Path | None) -> None:
    """The fixtures a canned item uses, declared as a test function's arguments."""


class CannedItem(pytest.Function):
    """One canned question, asked and checked like `qa check` does (qa.canned.run_case).

    A Function rather than a bare Item because it needs fixtures (qa_bot, qa_snapshot), and
    pytest has no public way for other items to request them (pytest issue #2471).
    """

    def __init__(self, *, case: canned.Case, **kwargs: Any) -> None:
        super().__init__(callobj=_canned_item_fixtures, **kwargs)
        self.case = case

    def runtest(self) -> None:
        outcome = canned.run_case(cast("Chatbot", self.funcargs["qa_bot"]), self.case)
        snapshot = self._snapshot()
        changes = snapshot.check(outcome) if snapshot is not None else []
        if not outcome.passed or changes:
            wrong = canned.what_is_wrong(outcome, changes)
            raise CannedFailure([wrong, *canned.details(outcome), *changes])

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, CannedFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def _snapshot(self) -> Snapshot | None:
        """The session's Snapshot of --qa-snapshot, else of the qa_snapshot fixture."""
        option = self.config.getoption("qa_snapshot")
        path = self.config.invocation_params.dir / option if option else None
        path = path or cast("Path | None", self.funcargs["qa_snapshot"])
        update = bool(self.config.getoption("qa_update_snapshot"))
        if path is None:
            if update:
                pytest.fail("--qa-update-snapshot needs --qa-snapshot FILE.", pytrace=False)
            return None
        path = Path(path).resolve()
        snapshots = self.config.stash[_SNAPSHOTS]
        if path not in snapshots:
            snapshots[path] = Snapshot(path, update)
        return snapshots[path]

    def reportinfo(self) -> tuple[Path, None, str]:
        return self.path, None, self.name


class CannedFailure(Exception):
    """A canned question answered wrongly: what is wrong, then `qa check`'s explanation."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__("\n".join(lines))


class Snapshot:
    """The snapshot file items compare their answers with, or record them in."""

    def __init__(self, path: Path, update: bool) -> None:
        self.path = path
        self.update = update
        self.answers: dict[str, Any] = {}  # recorded by this session
        self._recorded: dict[str, Any] | None = None

    def check(self, outcome: canned.Outcome) -> list[str]:
        """How this item's answer differs from the recorded one (only its own key)."""
        if self.update:
            self.answers.update(canned.snapshot_of([outcome]))
            return []
        if self._recorded is None:
            if not self.path.is_file():
                return [f"no snapshot at {self.path}: record one with --qa-update-snapshot"]
            self._recorded = canned.read_snapshot(self.path)
        changes = canned.snapshot_changes(self._recorded, outcome)
        if changes and canned.case_key(outcome.case) not in self._recorded:
            changes.append("(not in the snapshot yet: record it with --qa-update-snapshot)")
        return changes

    def save(self) -> None:
        """Merge this session's answers into the file, keeping the entries not run."""
        if self.answers:
            merged = canned.read_snapshot(self.path) if self.path.is_file() else {}
            canned.write_snapshot(self.path, merged | self.answers)


_SNAPSHOTS = pytest.StashKey[dict[Path, Snapshot]]()
