"""Operability: no network at run time, structured logs with stage timings, configuration."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.cli import _parser, main
from qa.config import Settings
from qa.logs import KeyValueFormatter, setup_logging

QA = str(Path(sys.executable).with_name("qa"))

# Installed through PYTHONPATH, this makes every connection to a non-loopback address (and
# every name lookup other than localhost) fail, and records the attempt.
GUARD = """
import os, socket

_LOG = os.environ["NET_GUARD_LOG"]
_LOCAL = ("127.", "::1", "localhost", "0.0.0.0")


def _blocked(what, target):
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(f"{what} {target!r}\\n")
    raise OSError(f"network disabled by test guard: {what} {target!r}")


def _is_local(address):
    host = address[0] if isinstance(address, tuple) else address
    return isinstance(host, str) and (host.startswith(_LOCAL) or host.startswith("/"))


_connect, _connect_ex, _getaddrinfo = (
    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo
)


def connect(self, address):
    if self.family != socket.AF_UNIX and not _is_local(address):
        _blocked("connect", address)
    return _connect(self, address)


def connect_ex(self, address):
    if self.family != socket.AF_UNIX and not _is_local(address):
        _blocked("connect", address)
    return _connect_ex(self, address)


def getaddrinfo(host, *args, **kwargs):
    if host is not None and not _is_local(host):
        _blocked("lookup", host)
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = (
    connect, connect_ex, getaddrinfo
)
"""


@pytest.fixture
def guarded_env(tmp_path: Path) -> tuple[dict[str, str], Path]:
    """Environment for a subprocess with the network guard and no offline switches set:
    the program itself must stay offline."""
    folder = tmp_path / "guard"
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(GUARD, encoding="utf-8")
    attempts = tmp_path / "attempts.log"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "GRADIO_ANALYTICS_ENABLED")
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), env.get("PYTHONPATH")]))
    env["NET_GUARD_LOG"] = str(attempts)
    return env, attempts


def test_network_guard_really_blocks(guarded_env: tuple[dict[str, str], Path]) -> None:
    env, attempts = guarded_env
    probe = (
        "import socket\n"
        "for call in (lambda: socket.create_connection(('192.0.2.1', 443), timeout=1),\n"
        "             lambda: socket.getaddrinfo('huggingface.co', 443)):\n"
        "    try:\n        call()\n    except OSError as error:\n        print(error)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env
    )
    assert run.stdout.count("network disabled by test guard") == 2, run.stderr
    assert attempts.read_text(encoding="utf-8").count("\n") == 2


def test_bot_answers_with_the_network_disabled(
    guarded_env: tuple[dict[str, str], Path], seed_settings: Settings
) -> None:
    env, attempts = guarded_env
    run = subprocess.run(
        [
            QA,
            "ask",
            "What is denervation?",
            "--json",
            "--corpus",
            str(seed_settings.corpus_dir),
            "--index",
            str(seed_settings.index_dir),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert not answer["abstained"] and answer["citations"][0]["source"] == "denervation.txt"
    assert "loss of nerve supply" in answer["text"]
    assert not attempts.exists(), attempts.read_text(encoding="utf-8")


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The CLI configures the root logger; put the test session's set-up back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _parse_kv(line: str) -> dict[str, str]:
    """A key=value log line back into fields (values may be JSON-quoted strings)."""
    fields: dict[str, str] = {}
    decoder = json.JSONDecoder()
    rest = line.strip()
    while rest:
        key, _, rest = rest.partition("=")
        if rest.startswith('"'):
            value, end = decoder.raw_decode(rest)
            rest = rest[end:].lstrip()
        else:
            value, _, rest = rest.partition(" ")
        fields[key] = str(value)
    return fields


@pytest.mark.usefixtures("restore_logging")
def test_build_logs_each_stage_with_its_timing_as_json(
    small_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--index", str(tmp_path / "index"), "--log-level", "info", "--log-format", "json"]
    assert main(["build", str(small_corpus), *options]) == 0
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    built = next(r for r in records if r["msg"].startswith("built index"))
    for stage in ("load", "chunk", "embed", "lexical", "write", "total"):
        assert built[f"{stage}_ms"] >= 0
    assert built["level"] == "INFO" and built["logger"] == "qa.index" and built["chunks"] > 0
    assert any(
        r["msg"].startswith("building index") and "no index yet" in r["msg"] for r in records
    )


@pytest.mark.usefixtures("restore_logging")
def test_answer_logs_retrieve_and_compose_timing_as_key_value_lines(
    seed_settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_LOG_LEVEL", "INFO")
    options = ["--corpus", str(seed_settings.corpus_dir), "--index", str(seed_settings.index_dir)]
    assert main(["ask", "What is denervation?", *options]) == 0
    lines = [_parse_kv(line) for line in capsys.readouterr().err.splitlines()]
    [answered] = [f for f in lines if f.get("msg") == "answered"]
    assert answered["question"] == "What is denervation?" and answered["abstained"] == "false"
    assert float(answered["retrieve_ms"]) > 0 and float(answered["compose_ms"]) > 0


@pytest.mark.usefixtures("restore_logging")
def test_third_party_chatter_is_silent_unless_debugging(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_logging("INFO")
    logging.getLogger("bm25s").setLevel(logging.DEBUG)  # as bm25s does on import
    logging.getLogger("bm25s").debug("Building index from tokens")
    logging.getLogger("faiss.loader").info("Loading faiss.")
    logging.getLogger("bm25s").warning("a real problem")
    logging.getLogger("qa.index").info("ours")
    err = capsys.readouterr().err
    assert "Building index" not in err and "Loading faiss" not in err
    assert "a real problem" in err and "ours" in err
    setup_logging("DEBUG")
    logging.getLogger("bm25s").debug("Building index from tokens")
    assert "Building index" in capsys.readouterr().err


def test_log_lines_cannot_be_forged_by_text_in_them() -> None:
    record = logging.makeLogRecord(
        {"name": "qa.chat", "levelname": "INFO", "msg": "answered"}
        | {"question": 'x"\nlevel=ERROR msg=forged'}
    )
    line = KeyValueFormatter().format(record)
    assert "\n" not in line and _parse_kv(line)["question"] == 'x"\nlevel=ERROR msg=forged'


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize(
    ("options", "env", "message"),
    [
        (["--max-question-chars", "12"], {}, "the limit is 12"),
        ([], {"QA_MAX_QUESTION_CHARS": "12"}, "the limit is 12"),
        ([], {"QA_TOP_K": "lots"}, "QA_TOP_K='lots' is not a valid int"),
        (["--top-k", "0"], {}, "top_k must be at least 1"),
        (["--log-level", "loud"], {}, "Log level 'LOUD' is unknown"),
        ([], {"QA_LOG_FORMAT": "xml"}, "Log format 'xml' is unknown"),
        (["--corpus", "/nowhere/at/all"], {}, "/nowhere/at/all does not exist"),
    ],
)
def test_settings_from_options_and_environment_are_applied_or_explained(
    seed_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    options: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("QA_CORPUS", str(seed_settings.corpus_dir))
    monkeypatch.setenv("QA_INDEX", str(seed_settings.index_dir))
    assert main(["ask", "What is denervation?", *options]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.usefixtures("restore_logging")
def test_threshold_option_changes_the_answer(
    seed_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--corpus", str(seed_settings.corpus_dir), "--index", str(seed_settings.index_dir)]
    assert main(["ask", "What is denervation?", "--abstain-below", "1", *options]) == 0
    assert "could not find an answer" in capsys.readouterr().out


def test_server_address_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_HOST", "0.0.0.0")
    monkeypatch.setenv("QA_PORT", "8123")
    args = _parser().parse_args(["serve"])
    assert (args.host, args.port) == ("0.0.0.0", 8123)
    monkeypatch.setenv("QA_PORT", "eighty")
    with pytest.raises(SystemExit) as exit_info:
        _parser().parse_args(["serve"])
    assert exit_info.value.code == 2
