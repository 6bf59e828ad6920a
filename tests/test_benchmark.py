"""The retrieval benchmark script: its scoring rules and one real run over the seed corpus."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
import torch

from qa.chunking import Chunk
from qa.config import PROJECT_ROOT

_spec = importlib.util.spec_from_file_location(
    "retrieval_benchmark", PROJECT_ROOT / "benchmarks" / "retrieval.py"
)
assert _spec and _spec.loader
bench = importlib.util.module_from_spec(_spec)
sys.modules["retrieval_benchmark"] = bench
_spec.loader.exec_module(bench)


def test_metrics_from_first_hit_ranks() -> None:
    hit1, recall5, mrr = bench.metrics([1, 2, 0, 6])
    assert hit1 == 0.25
    assert recall5 == 0.5
    assert mrr == pytest.approx((1 + 1 / 2 + 1 / 6) / 4)


def test_a_passage_counts_when_it_overlaps_the_gold_span_of_the_gold_file() -> None:
    golds = [("a.txt", 100, 200)]
    assert bench.overlaps(("a.txt", 150, 300), golds)
    assert not bench.overlaps(("a.txt", 200, 300), golds)  # touching is not overlapping
    assert not bench.overlaps(("b.txt", 150, 160), golds)
    assert bench.first_hit([("b.txt", 0, 9), ("a.txt", 0, 101)], golds) == 2


def test_ceiling_counts_one_top_chunk_per_identical_wording() -> None:
    chunks = [
        Chunk("a.txt", "A", "", 0, 100, "x", ()),
        Chunk("a.txt", "A", "", 100, 200, "y", ()),
    ]
    same = (("a.txt", 0, 50), ("a.txt", 150, 160))
    questions = [
        bench.Question("1", "What is A?", same[0], same, "dev", False),
        bench.Question("2", "what is  a?", same[1], same, "dev", False),
        bench.Question("3", "Why A?", ("a.txt", 120, 130), (("a.txt", 120, 130),), "dev", False),
    ]
    assert bench.ceiling(questions, chunks) == pytest.approx(2 / 3)


def _span(text: str, starts: str, ends: str) -> tuple[int, int]:
    start = text.index(starts)
    return start, text.index(ends, start) + len(ends)


def test_benchmark_run_prints_the_three_retrievers_side_by_side(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = PROJECT_ROOT / "corpus"
    denervation = (corpus / "denervation.txt").read_text(encoding="utf-8")
    neurolysis = (corpus / "neurolysis.txt").read_text(encoding="utf-8")
    rows = [
        ("What happens to a muscle after denervation?", "denervation.txt", denervation,
         "When a muscle loses its nerve supply", "muscle has been severed."),
        ("What tests diagnose denervation?", "denervation.txt", denervation,
         "Diagnosing denervation involves", "(NCS)."),
        ("How fast do damaged nerves regrow?", "denervation.txt", denervation,
         "one inch per month", "one inch per month"),
        ("What is cryoneurolysis?", "neurolysis.txt", neurolysis,
         "Cryoneurolysis represents", "damage nerve tissue."),
        # Worded identically with two gold spans that no one chunk covers: a retriever can
        # hit only one of them at rank 1.
        ("What is neurolysis?", "neurolysis.txt", neurolysis,
         "Neurolysis is a medical procedure", "intentionally disrupting nerve tissue."),
        ("What is neurolysis?", "neurolysis.txt", neurolysis,
         "Neurolysis also plays a role", "involuntary muscle stiffness."),
    ]  # fmt: skip
    questions = tmp_path / "questions.jsonl"
    with questions.open("w", encoding="utf-8") as out:
        for n, (question, source, text, starts, ends) in enumerate(rows):
            start, end = _span(text, starts, ends)
            row = {"id": str(n), "question": question, "source": source, "start": start}
            out.write(json.dumps({**row, "end": end, "duplicates": 0}) + "\n")

    argv = ["--corpus", str(corpus), "--questions", str(questions)]
    argv += ["--index", str(tmp_path / "index"), "--torch-threads", str(torch.get_num_threads())]
    assert bench.main(argv) == 0
    printed = capsys.readouterr().out

    assert "hit@1 ceiling from identical wordings: 0.833" in printed
    table = printed.split("### all: 6 questions", 1)[1].split("###", 1)[0]
    rows_by_name = {
        name: [float(cell) for cell in cells.split("|")[1:-1]]
        for name, cells in re.findall(r"^\| (product|BM25 alone|dense alone) (\|.*)$", table, re.M)
    }
    assert set(rows_by_name) == {"product", "BM25 alone", "dense alone"}
    product = rows_by_name["product"]
    assert product[0] == pytest.approx(5 / 6, abs=1e-3)  # hit@1: all but one identical wording
    assert product[5] == pytest.approx(1.0)  # hit@1 (any)
    answer_hit = re.search(r"answer-hit ([\d.]+) \(any: ([\d.]+)\)", table)
    assert answer_hit and float(answer_hit[2]) >= 5 / 6 - 1e-3
