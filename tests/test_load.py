"""Load: 20 simultaneous browser sessions, 10 questions each, against a real `qa serve`.

Each session is a gradio_client Client (its own server-side session and conversation State).
Half the sessions talk about cryoneurolysis, half about denervation, and each asks a pronoun
follow-up ("How is it ...?") while the others are mid-conversation: a follow-up answered from
another session's history would cite the wrong document. Latency p50/p95 is printed.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from qa.chat import Chatbot
from qa.config import Settings

SESSIONS = 20
REQUEST_TIMEOUT = 180.0  # seconds for one answer, queueing included
START_TIMEOUT = 300.0


@dataclass(frozen=True)
class Step:
    question: str
    any_of: tuple[str, ...] = ()  # at least one must be in the reply (any case)
    source: str = ""  # file the reply must cite
    not_source: str = ""  # file the reply must not cite (a follow-up read in the wrong chat)


ABSTAIN = ("could not find",)
COMMON = [
    Step("What is a sympathectomy used for?", ("hyperhidrosis", "sweating"), "denervation.txt"),
    Step("What is the capital of France?", ABSTAIN),
    Step("Which chemicals are used for chemical neurolysis?", ("phenol",), "neurolysis.txt"),
    Step("   ", ("empty",)),
    Step("What is a celiac plexus block used for?", ("abdominal pain",), "neurolysis.txt"),
    Step("<script>alert(1)</script>", ABSTAIN),
]
CRYO = [
    Step("What is cryoneurolysis?", ("extreme cold", "freezing"), "neurolysis.txt"),
    Step("How is it performed?", (), "neurolysis.txt", "denervation.txt"),
]
DENERVATION = [
    Step("What is denervation?", ("loss of nerve supply",), "denervation.txt"),
    Step("How is it diagnosed?", ("electromyography", "EMG"), "denervation.txt", "neurolysis.txt"),
]


def _script(session: int) -> list[Step]:
    """Ten steps; the topic pair sits at a different point in each session's script."""
    topic, other = (CRYO, DENERVATION) if session % 2 else (DENERVATION, CRYO)
    common = COMMON[session % 6 :] + COMMON[: session % 6]
    return [*common[:2], *topic, *common[2:4], *other, *common[4:]]


def _reply(answer: dict[str, Any]) -> str:
    """The answer text and the files it cites, as one string to check."""
    return " ".join([answer["text"], *(c["source"] for c in answer["citations"])])


def _problems(step: Step, reply: str, session: int) -> list[str]:
    lowered = reply.lower()
    where = f"session {session}, {step.question!r}"
    found = []
    if step.any_of and not any(p.lower() in lowered for p in step.any_of):
        found.append(f"{where}: none of {step.any_of} in {reply[:200]!r}")
    if step.source and step.source not in reply:
        found.append(f"{where}: {step.source} not cited in {reply[:200]!r}")
    if step.not_source and step.not_source in reply:
        found.append(f"{where}: cites {step.not_source}, another session's topic")
    return found


def _run_session(url: str, session: int) -> tuple[list[float], list[str]]:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
    latencies: list[float] = []
    problems: list[str] = []
    try:
        for step in _script(session):
            began = time.perf_counter()
            try:
                job = client.submit(step.question, api_name="/ask")
                reply = _reply(job.result(timeout=REQUEST_TIMEOUT))
            except AppError as error:  # a blank question: the API says what is wrong
                reply = str(error)
            latencies.append(time.perf_counter() - began)
            problems += _problems(step, reply, session)
    finally:
        client.close()
    return latencies, problems


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(seed_settings: Settings, bot: Chatbot) -> Iterator[str]:
    """`qa serve` on 127.0.0.1 over the seed corpus (index already built by ``bot``)."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [
        str(Path(sys.executable).with_name("qa")),
        "serve",
        "--corpus",
        str(seed_settings.corpus_dir),
        "--index",
        str(seed_settings.index_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        wait_for_server(process, url)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


def wait_for_server(process: subprocess.Popen[str], url: str) -> None:
    """Return once ``url`` answers 200; fail when the server exits or START_TIMEOUT passes."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise AssertionError(f"qa serve exited: {process.communicate()[1][-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as page:
                if page.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("qa serve did not start in time")
        time.sleep(1)


def test_twenty_sessions_ten_questions_each(
    server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    began = time.perf_counter()
    with ThreadPoolExecutor(SESSIONS) as pool:
        futures = [pool.submit(_run_session, server, n) for n in range(SESSIONS)]
        outcomes = [f.result(timeout=REQUEST_TIMEOUT * 10) for f in futures]
    wall = time.perf_counter() - began
    latencies = sorted(t for times, _ in outcomes for t in times)
    problems = [p for _, found in outcomes for p in found]
    assert len(latencies) == SESSIONS * 10
    assert problems == []
    p50 = statistics.median(latencies)
    p95 = statistics.quantiles(latencies, n=20)[-1]
    with capsys.disabled():
        print(
            f"\nload: {SESSIONS} sessions x 10 questions = {len(latencies)} answers in "
            f"{wall:.1f}s; latency p50 {p50:.2f}s, p95 {p95:.2f}s, max {latencies[-1]:.2f}s"
        )
