"""The quality benchmark: its corpora and scoring rules, and one real run over the seed corpus."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest

from qa.config import PROJECT_ROOT


def _load(name: str) -> object:
    spec = importlib.util.spec_from_file_location(name, PROJECT_ROOT / "benchmarks" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
corpora = _load("corpora")
quality = _load("quality")


def test_metrics_from_first_hit_ranks() -> None:
    hit1, recall5, mrr = quality.metrics([1, 2, 0, 6])
    assert hit1 == 0.25
    assert recall5 == 0.5
    assert mrr == pytest.approx((1 + 1 / 2 + 1 / 6) / 4)


def test_a_passage_counts_when_it_overlaps_the_gold_span_of_the_gold_file() -> None:
    golds = [("a.txt", 100, 200)]
    assert corpora.overlaps(("a.txt", 150, 300), golds)
    assert not corpora.overlaps(("a.txt", 200, 300), golds)  # touching is not overlapping
    assert not corpora.overlaps(("b.txt", 150, 160), golds)
    assert corpora.first_hit([("b.txt", 0, 9), ("a.txt", 0, 101)], golds) == 2


def test_seed_canned_questions_become_gold_spans_split_into_halves() -> None:
    seed = corpora.dev_corpora(["seed"])[0]
    text = (PROJECT_ROOT / "corpus" / "denervation.txt").read_text(encoding="utf-8")
    regrow = next(q for q in seed.questions if q.text == "How fast do damaged nerves regrow?")
    assert all(text[a:b].lower() == "one inch per month" for _, a, b in regrow.golds)
    assert {q.half for q in seed.questions} == {"dev", "heldout"}  # two documents: by question
    assert any(q.text == "What is the capital of France?" for q in seed.refuse)
    assert not any(q.golds == () for q in seed.questions)


def test_seed_plain_is_the_seed_documents_without_headings(tmp_path: Path) -> None:
    """The same paragraphs under the same title, with no section headings for the bot to read;
    its questions are the seed's, never asked of the seed (or of others) as foreign ones."""
    from qa.documents import load_corpus

    plain = load_corpus(corpora.without_headings(PROJECT_ROOT / "corpus", tmp_path / "plain"))
    seed = load_corpus(PROJECT_ROOT / "corpus")
    assert [d.title for d in plain] == [d.title for d in seed]
    assert all(s.heading == "" for d in plain for s in d.sections)
    assert all("Causes of Denervation" not in d.text for d in plain)

    def paragraphs(docs: list) -> list[str]:
        return [d.text[a:b] for d in docs for s in d.sections for a, b in s.paragraphs]

    assert paragraphs(plain) == paragraphs(seed)
    everything = corpora.dev_corpora(["seed", "seed-plain"])
    copy = everything[1]
    assert copy.copy_of == "seed" and len(copy.questions) == len(everything[0].questions)
    assert corpora.foreign(copy, everything) == [] == corpora.foreign(everything[0], everything)


def test_guides_questions_all_find_their_gold_spans() -> None:
    """Every guides case either names phrases that stand in its document (a case whose phrase
    is missing would silently drop out of the benchmark) or must abstain; the folder mixes
    formats, and the headings are read where the documents have them."""
    import yaml

    from qa.documents import load_corpus

    guides = corpora.dev_corpora(["guides"])[0]
    cases = yaml.safe_load((corpora.GUIDES / "questions.yaml").read_text(encoding="utf-8"))
    assert len(guides.questions) + len(guides.refuse) == len(cases)
    assert {q.half for q in guides.questions} == {"dev", "heldout"}
    documents = {d.source: d for d in load_corpus(guides.folder)}
    assert {Path(s).suffix for s in documents} == {".md", ".txt", ".html"}
    library = documents["library-services.html"]
    assert library.title == "Using Eastbrook Public Library"
    assert "Late returns" in [s.heading for s in library.sections]
    assert "Events" not in library.text and "Cookie" not in library.text  # menu, footer
    assert all(s.heading == "" for s in documents["returns-and-refunds.txt"].sections)


def _span(text: str, starts: str, ends: str) -> tuple[int, int]:
    start = text.index(starts)
    return start, text.index(ends, start) + len(ends)


def test_benchmark_run_prints_the_product_beside_three_baselines(
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
        ("Which chemicals are used for chemical neurolysis?", "neurolysis.txt", neurolysis,
         "Alcohol and phenol", "signal transmission."),
    ]  # fmt: skip
    questions = tmp_path / "questions.jsonl"
    with questions.open("w", encoding="utf-8") as out:
        for n, (question, source, text, starts, ends) in enumerate(rows):
            start, end = _span(text, starts, ends)
            row = {"id": str(n), "question": question, "source": source, "start": start}
            out.write(json.dumps({**row, "end": end}) + "\n")

    argv = ["--corpus", str(corpus), "--questions", str(questions)]
    argv += ["--index", str(tmp_path / "index"), "--out", str(tmp_path / "quality.json")]
    assert quality.main(argv) == 0
    printed = capsys.readouterr().out
    names = re.findall(r"^\| corpus \| dev \| \d+ \| \**([^|*]+?)\**\s\|", printed, re.M)
    assert names == ["product", "BM25 alone", "dense alone", "RRF (BM25 + dense)"]
    figures = json.loads((tmp_path / "quality.json").read_text(encoding="utf-8"))["corpus"]
    halves = list(figures.values())
    assert sum(h["questions"] for h in halves) == 5  # two documents: split by question
    for half in halves:
        assert half["retrieval"]["product"]["hit@1"] == pytest.approx(1.0)
        assert half["cite@1"] >= 0.5 and half["abstained"] == 0.0
        assert 0.0 <= half["confident right"] <= 1.0
