"""The Milvus store on a real Milvus Lite server (its gRPC server, started for the session)
and as a local file: answers byte-identical to the FAISS store's, builder and readers apart."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from qa import canned
from qa import index as index_module
from qa.chat import Chatbot
from qa.cli import main
from qa.config import PROJECT_ROOT, Settings, StoreAddress, store_address
from qa.documents import excerpt
from qa.embedding import get_embedder
from qa.index import open_index
from tests.conftest import CANNED
from tests.test_load import REQUEST_TIMEOUT, SESSIONS, _run_session, wait_for_server

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

SERVER_START_SECONDS = 60
FORMATS = PROJECT_ROOT / "tests" / "fixtures" / "formats"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def milvus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """milvus://127.0.0.1:PORT of a Milvus Lite gRPC server in its own process."""
    port = _free_port()
    data = tmp_path_factory.mktemp("milvus") / "data"
    server = subprocess.Popen(
        [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data)]
        + ["--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + SERVER_START_SECONDS
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"Milvus Lite server did not start (exit status {server.poll()})")
            time.sleep(0.1)
    yield f"milvus://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=30)


@pytest.fixture(scope="module")
def milvus_seed(
    milvus: str, seed_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    """The seed corpus built into the server by a builder (``qa build --store``)."""
    settings = seed_settings.with_overrides(
        store=f"{milvus}/seed", index_dir=tmp_path_factory.mktemp("milvus-seed") / "index"
    )
    status = main(
        [
            "build",
            str(settings.corpus_dir),
            "--store",
            settings.store,
            "--index",
            str(settings.index_dir),
        ]
    )
    assert status == 0
    return settings


def test_canned_answers_are_byte_identical_to_the_faiss_store(
    bot: Chatbot, milvus_seed: Settings
) -> None:
    reader = Chatbot.from_corpus(settings=milvus_seed)
    assert reader.retriever.index.manifest["store"] == "milvus"
    cases = [case for path in sorted(CANNED.glob("*.yaml")) for case in canned.load_cases(path)]
    on_milvus = canned.run_cases(reader, cases)
    on_faiss = canned.run_cases(bot, cases)
    assert [o.answer for o in on_milvus] == [o.answer for o in on_faiss]
    assert all(o.passed for o in on_milvus), canned.report(on_milvus)
    recorded = canned.read_snapshot(CANNED / "snapshot.json")
    assert canned.snapshot_diff(recorded, canned.snapshot_of(on_milvus)) == []


def test_a_server_store_is_only_read_by_chatbots(milvus: str, seed_settings: Settings) -> None:
    empty = seed_settings.with_overrides(store=f"{milvus}/nothing_here")
    with pytest.raises(FileNotFoundError, match="qa build"):
        Chatbot.from_corpus(settings=empty)


def test_a_document_added_by_the_builder_is_answered_by_a_running_reader(
    milvus: str, small_corpus: Path, tmp_path: Path
) -> None:
    builder = Settings().with_overrides(
        corpus_dir=small_corpus, index_dir=tmp_path / "index", store=f"{milvus}/live"
    )
    embedder = get_embedder(builder.model)
    open_index(builder, embedder, update=True)
    reader = Chatbot.from_corpus(settings=builder.with_overrides(refresh_seconds=0.2))
    assert set(reader.retriever.index.manifest["files"]) == {"bread.md", "kettles.txt"}

    (small_corpus / "sourdough.txt").write_text(
        "Sourdough Starter\n\nFeeding\n\nA sourdough starter needs feeding every twelve hours "
        "with equal weights of flour and water.\n",
        encoding="utf-8",
    )
    (small_corpus / "bread.md").unlink()
    qa = Path(sys.executable).parent / "qa"  # the builder is another process
    build = [str(qa), "build", str(small_corpus), "--store", builder.store]
    result = subprocess.run(
        [*build, "--index", str(builder.index_dir)], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert "1 embedded in the last build" in result.stdout  # only the new file

    question = "How long does a sourdough starter need between feedings?"

    deadline = time.monotonic() + 30
    while "sourdough.txt" not in reader.retriever.index.manifest["files"]:
        assert time.monotonic() < deadline, "the reader never picked up the new version"
        reader.fork().ask("What is descaling?")  # asking starts the background check
        time.sleep(0.2)
    answer = reader.fork().ask(question)
    assert answer.citations[0].source == "sourdough.txt"
    assert "twelve hours" in answer.text
    assert {p.source for p in reader.retrieve("bread dough proving", k=10)} <= {
        "kettles.txt",
        "sourdough.txt",
    }


def test_a_milvus_lite_file_holds_an_index_too(small_corpus: Path, tmp_path: Path) -> None:
    settings = Settings().with_overrides(
        corpus_dir=small_corpus, index_dir=tmp_path / "index", store=str(tmp_path / "qa.db")
    )
    open_index(settings, get_embedder(settings.model), update=True)
    files = Settings().with_overrides(corpus_dir=small_corpus, index_dir=tmp_path / "files")
    question = "How often is a kettle descaled?"
    on_file = Chatbot.from_corpus(settings=settings).answer(question)
    assert on_file == Chatbot.from_corpus(settings=files).answer(question)
    assert on_file.citations[0].source == "kettles.txt"


def test_a_read_only_store_of_an_older_build_is_flagged(
    small_corpus: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A server store is only read by chatbots, so a build of an older vocabulary is answered
    from as it is, with a warning naming `qa build`; one of another model cannot be."""
    settings = Settings().with_overrides(
        corpus_dir=small_corpus, index_dir=tmp_path / "index", store=str(tmp_path / "qa.db")
    )
    embedder = get_embedder(settings.model)
    monkeypatch.setattr(index_module, "LEXICON_VERSION", index_module.LEXICON_VERSION - 1)
    open_index(settings, embedder, update=True)
    monkeypatch.undo()
    with caplog.at_level(logging.WARNING, logger="qa.index"):
        index = open_index(settings, embedder, update=False)
    assert index.manifest["files"]
    assert "vocabulary format changed" in caplog.text and "qa build" in caplog.text
    with pytest.raises(ValueError, match="built with the model"):
        open_index(settings.with_overrides(model="another-model"), embedder, update=False)


def test_store_addresses_are_read_in_one_place(tmp_path: Path) -> None:
    assert store_address("milvus://db.example:19530") == StoreAddress(
        "http://db.example:19530", "qa"
    )
    assert store_address("milvus://10.0.0.5:19530/clinic").collections == "clinic"
    assert store_address(str(tmp_path / "x.db")).uri == str(tmp_path / "x.db")
    for bad in ("milvus://nohost", "milvus://h:1/bad-name", "index/folder"):
        with pytest.raises(ValueError, match="store"):
            Settings(store=bad)


def test_the_store_setting_comes_from_qa_store() -> None:
    from qa.config import settings_from_env

    assert settings_from_env({"QA_STORE": "milvus://h:19530"}).store == "milvus://h:19530"
    assert settings_from_env({}).store == ""


def test_readers_elsewhere_show_pdf_citations_from_the_kept_text(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    shutil.copy(FORMATS / "denervation.pdf", corpus)
    builder = Settings().with_overrides(
        corpus_dir=corpus, index_dir=tmp_path / "builder", store=str(tmp_path / "qa.db")
    )
    open_index(builder, get_embedder(builder.model), update=True)
    elsewhere = builder.with_overrides(index_dir=tmp_path / "server")  # another machine's folder
    bot = Chatbot.from_corpus(settings=elsewhere)
    c = bot.ask("How fast do damaged nerves regrow?").citations[0]
    assert c.source == "denervation.pdf" and c.page == 3
    kept_name = bot.retriever.index.manifest["files"][c.source]["kept"]
    assert (tmp_path / "server" / kept_name).is_file()
    shown = excerpt(corpus, c.source, c.start, c.end, c.quote, index_dir=tmp_path / "server")
    assert c.quote in shown.text


def test_servers_on_a_store_refuse_uploads(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--allow-upload", "--store", "milvus://127.0.0.1:1"]) == 2
    assert "qa build" in capsys.readouterr().err


def _serve(settings: Settings) -> tuple[subprocess.Popen[str], str]:
    """`qa serve` reading ``settings.store`` (it never builds), on a free port."""
    port = _free_port()
    command = [str(Path(sys.executable).with_name("qa")), "serve", "--store", settings.store]
    command += ["--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir)]
    command += ["--port", str(port), "--refresh-seconds", "1"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    )
    return process, f"http://127.0.0.1:{port}/"


def test_two_servers_share_one_index_and_follow_the_builder(
    milvus: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gradio_client import Client

    corpus = tmp_path / "corpus"
    shutil.copytree(PROJECT_ROOT / "corpus", corpus)
    settings = Settings().with_overrides(
        corpus_dir=corpus, index_dir=tmp_path / "builder", store=f"{milvus}/shared"
    )
    assert (
        main(["build", str(corpus), "--store", settings.store, "--index", str(settings.index_dir)])
        == 0
    )
    servers = [_serve(settings.with_overrides(index_dir=tmp_path / f"server{n}")) for n in (1, 2)]
    try:
        for process, url in servers:
            wait_for_server(process, url)
        began = time.perf_counter()
        with ThreadPoolExecutor(SESSIONS) as pool:
            futures = [pool.submit(_run_session, servers[n % 2][1], n) for n in range(SESSIONS)]
            outcomes = [f.result(timeout=REQUEST_TIMEOUT * 10) for f in futures]
        wall = time.perf_counter() - began
        latencies = sorted(t for times, _ in outcomes for t in times)
        assert len(latencies) == SESSIONS * 10
        assert [p for _, found in outcomes for p in found] == []

        (corpus / "sourdough.txt").write_text(
            "Sourdough Starter\n\nFeeding\n\nA sourdough starter needs feeding every twelve "
            "hours with equal weights of flour and water.\n",
            encoding="utf-8",
        )
        assert (
            main(
                [
                    "build",
                    str(corpus),
                    "--store",
                    settings.store,
                    "--index",
                    str(settings.index_dir),
                ]
            )
            == 0
        )
        question = "How often does a sourdough starter need feeding?"
        for _, url in servers:
            client = Client(url, verbose=False, analytics_enabled=False, download_files=False)
            deadline = time.monotonic() + 60
            while not any(
                c["source"] == "sourdough.txt"
                for c in client.predict(question, api_name="/ask")["citations"]
            ):
                assert time.monotonic() < deadline, f"{url} never answered from the new file"
                time.sleep(1)
            client.close()
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(30)
    with capsys.disabled():
        print(
            f"\ntwo servers on one Milvus Lite: {SESSIONS} sessions x 10 questions in "
            f"{wall:.1f}s; latency p50 {statistics.median(latencies):.2f}s, "
            f"p95 {statistics.quantiles(latencies, n=20)[-1]:.2f}s"
        )
