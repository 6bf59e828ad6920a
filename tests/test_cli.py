"""The `qa` command, in process and once as a real console script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from qa.cli import main
from qa.config import Settings
from tests.conftest import CANNED


def _options(settings: Settings) -> list[str]:
    return ["--corpus", str(settings.corpus_dir), "--index", str(settings.index_dir)]


def test_ask_prints_answer_and_sources(
    seed_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", "What is denervation?", *_options(seed_settings)]) == 0
    out = capsys.readouterr().out
    assert "loss of nerve supply" in out and "[1]" in out
    assert "Sources:" in out and "denervation.txt" in out


def test_ask_json(seed_settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "What is neurolysis?", "--json", *_options(seed_settings)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["abstained"] is False and data["citations"][0]["source"] == "neurolysis.txt"


def test_blank_question_is_a_message_not_a_traceback(
    seed_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", "   ", *_options(seed_settings)]) == 2
    err = capsys.readouterr().err
    assert "empty" in err and "Traceback" not in err


def test_check_reports_and_exits_nonzero_on_failure(
    seed_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", str(CANNED / "seed_questions.yaml"), *_options(seed_settings)]) == 0
    assert " passed, 0 failed" in capsys.readouterr().out
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("- question: What is denervation?\n  abstain: true\n", encoding="utf-8")
    report = tmp_path / "report.json"
    status = main(["check", str(wrong), "--json-report", str(report), *_options(seed_settings)])
    assert status == 1
    assert "FAIL" in capsys.readouterr().out
    assert json.loads(report.read_text())[0]["passed"] is False


def test_console_script_answers_and_abstains(seed_settings: Settings) -> None:
    """One real `qa` process: what a user types in a terminal."""
    script = Path(sys.executable).with_name("qa")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run = subprocess.run(
        [str(script), "ask", "What is the capital of France?", *_options(seed_settings)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert run.returncode == 0, run.stderr
    assert "could not find an answer" in run.stdout and "Sources" not in run.stdout
    version = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert version.stdout.startswith("qa ")


def test_build_device_cuda_without_a_gpu_is_one_line_and_exit_2(
    small_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    """No GPU on the machines this runs on: only the option and its error path are tested."""
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    index = tmp_path / "index"
    code = main(["build", str(small_corpus), "--index", str(index), "--device", "cuda"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1
    assert err.startswith("qa: --device cuda: torch sees no GPU") and "--device cpu" in err
    assert not (index / "manifest.json").exists()  # nothing was read or built


def test_build_device_is_cpu_by_default_and_only_cpu_or_cuda(
    small_corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: Any
) -> None:
    import qa.embedding

    asked: list[str] = []
    real = qa.embedding.build_embedder
    monkeypatch.setattr(
        qa.embedding, "build_embedder", lambda name, device: asked.append(device) or real(name)
    )
    index = ["--index", str(tmp_path / "index")]
    assert main(["build", str(small_corpus), *index]) == 0
    assert main(["build", str(small_corpus), *index, "--device", "cpu"]) == 0
    assert asked == ["cpu", "cpu"]
    with pytest.raises(SystemExit) as exit_:
        main(["build", str(small_corpus), *index, "--device", "tpu"])
    assert exit_.value.code == 2 and "invalid choice: 'tpu'" in capsys.readouterr().err


def test_cuda_embedder_is_sentence_transformers_on_the_gpu(monkeypatch: Any) -> None:
    import torch

    import qa.embedding

    made: list[tuple[Any, ...]] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(qa.embedding, "Embedder", lambda *a, **k: made.append((a, k)))
    qa.embedding.build_embedder("some-model", "cuda")
    assert made == [(("some-model",), {"backend": "torch", "device": "cuda"})]
    with pytest.raises(ValueError, match="unknown"):
        qa.embedding.build_embedder("some-model", "tpu")
