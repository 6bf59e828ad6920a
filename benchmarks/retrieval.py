"""Retrieval benchmark: the product's retriever against BM25 alone and dense MiniLM alone.

For a corpus folder and a questions file (JSON lines with question, source, start, end; the
medquad-dev format) it prints hit@1, recall@5, MRR@10 and p50/p95 latency of each retriever,
and answer-hit: the first citation of the composed answer lands in the gold span. A passage or
citation counts when it comes from the gold file and overlaps the gold span.

Questions are split into two halves by hashing their gold document's name: `dev` (used by
--tune to choose the rerank weights) and `heldout` (never used for tuning). The index is built
once under benchmarks/out/ and reused by later runs.

    python benchmarks/retrieval.py                  # every question, tables for all/dev/heldout
    python benchmarks/retrieval.py --limit 300      # a quick run on a spread of 300 questions
    python benchmarks/retrieval.py --tune           # grid-search WEIGHTS on the dev half
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import logging
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "medquad-dev"
OUT = ROOT / "benchmarks" / "out"
DEPTH = 10  # ranks looked at: MRR@10

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(ROOT))

from qa.chat import Chatbot  # noqa: E402
from qa.chunking import Chunk  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embedding import Embedder, get_embedder  # noqa: E402
from qa.index import open_index  # noqa: E402
from qa.retrieval import FEATURES, Candidates, Retriever  # noqa: E402

Span = tuple[str, int, int]  # (source, start, end)


@dataclass(frozen=True)
class Question:
    id: str
    text: str
    gold: Span
    same_text_golds: tuple[Span, ...]  # gold spans of every question worded exactly like this
    half: str
    shared: bool  # the gold text also stands in other sections (boilerplate)


def half_of(source: str) -> str:
    """'dev' or 'heldout', fixed by a hash of the gold document's name."""
    return "dev" if hashlib.sha256(source.encode()).digest()[0] % 2 == 0 else "heldout"


def load_questions(path: Path) -> list[Question]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    by_text: dict[str, list[Span]] = defaultdict(list)
    for row in rows:
        by_text[_normal(row["question"])].append((row["source"], row["start"], row["end"]))
    return [
        Question(
            id=str(row.get("id", n)),
            text=row["question"],
            gold=(row["source"], row["start"], row["end"]),
            same_text_golds=tuple(by_text[_normal(row["question"])]),
            half=half_of(row["source"]),
            shared=bool(row.get("duplicates")),
        )
        for n, row in enumerate(rows)
    ]


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def overlaps(span: Span, golds: Iterable[Span]) -> bool:
    source, start, end = span
    return any(source == s and start < e and end > b for s, b, e in golds)


def first_hit(ranked: list[Span], golds: Iterable[Span]) -> int:
    """1-based rank of the first passage overlapping a gold span (0: none in the list)."""
    golds = list(golds)
    return next((n for n, span in enumerate(ranked, 1) if overlaps(span, golds)), 0)


@dataclass
class Outcome:
    """What one system did for one question."""

    rank: int  # of the first passage in the question's gold span (0: not in the top DEPTH)
    rank_any: int  # same, counting the gold span of any identically worded question
    ms: float


System = Callable[[str], list[Span]]


def systems(retriever: Retriever) -> dict[str, System]:
    """The product's retriever and the two baselines, all over the same indexed chunks."""
    chunks = retriever.index.chunks

    def spans(ids: Iterable[int]) -> list[Span]:
        return [(chunks[i].source, chunks[i].start, chunks[i].end) for i in ids]

    def product(query: str) -> list[Span]:
        return [(p.source, p.start, p.end) for p in retriever.retrieve(query, DEPTH)]

    def bm25(query: str) -> list[Span]:
        scores = retriever.lexical.scores(query)
        top = np.argpartition(-scores, DEPTH)[:DEPTH]
        return spans(int(i) for i in top[np.lexsort((top, -scores[top]))] if scores[i] > 0)

    def dense(query: str) -> list[Span]:
        _, ids = retriever.index.search(retriever.embedder.encode_query(query), DEPTH)
        return spans(int(i) for i in ids)

    return {"product": product, "BM25 alone": bm25, "dense alone": dense}


def run(system: System, questions: list[Question], embedder: Embedder) -> list[Outcome]:
    """Rank for every question, timing each one with no question vectors cached."""
    system(questions[0].text)  # warm-up: first calls pay one-off costs
    outcomes = []
    for question in questions:
        embedder.forget_recent()  # identical wordings and earlier systems must not be free
        began = time.perf_counter()
        ranked = system(question.text)
        ms = 1000 * (time.perf_counter() - began)
        outcomes.append(
            Outcome(
                first_hit(ranked, [question.gold]), first_hit(ranked, question.same_text_golds), ms
            )
        )
    return outcomes


@dataclass
class AnswerOutcome:
    hit: bool  # first citation in the gold span
    hit_any: bool  # ... or in the gold span of an identically worded question
    abstained: bool
    from_top_passage: bool  # first citation lies inside the top retrieved passage
    top_passage_hit: bool  # the top retrieved passage is in the gold span


def answer_all(bot: Chatbot, questions: list[Question]) -> list[AnswerOutcome]:
    """Answer every question as ``qa.ask`` does (Chatbot.answer: spelling, retrieval, compose)."""
    outcomes = []
    for question in questions:
        answer = bot.answer(question.text)
        top = bot.retriever.retrieve(answer.query, 1)[0]
        top_span = (top.source, top.start, top.end)
        if answer.citations:
            first = answer.citations[0]
            cited: Span = (first.source, first.start, first.end)
            inside = first.source == top.source and top.start <= first.start < top.end
        outcomes.append(
            AnswerOutcome(
                hit=bool(answer.citations) and overlaps(cited, [question.gold]),
                hit_any=bool(answer.citations) and overlaps(cited, question.same_text_golds),
                abstained=answer.abstained,
                from_top_passage=bool(answer.citations) and inside,
                top_passage_hit=overlaps(top_span, [question.gold]),
            )
        )
    return outcomes


def metrics(ranks: list[int]) -> tuple[float, float, float]:
    """(hit@1, recall@5, MRR@10) for 1-based first-hit ranks (0 = missed)."""
    n = len(ranks)
    return (
        sum(r == 1 for r in ranks) / n,
        sum(0 < r <= 5 for r in ranks) / n,
        sum(1 / r for r in ranks if 0 < r <= DEPTH) / n,
    )


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else 0.0


def report(
    title: str,
    questions: list[Question],
    results: dict[str, list[Outcome]],
    answers: list[AnswerOutcome] | None,
) -> str:
    """One markdown table for one set of questions."""
    lines = [
        f"### {title}: {len(questions)} questions",
        "",
        "| retriever | hit@1 | recall@5 | MRR@10 | p50 ms | p95 ms | hit@1 (any) | MRR@10 (any) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, outcomes in results.items():
        hit1, rec5, mrr = metrics([o.rank for o in outcomes])
        any1, _, any_mrr = metrics([o.rank_any for o in outcomes])
        ms = [o.ms for o in outcomes]
        lines.append(
            f"| {name} | {hit1:.3f} | {rec5:.3f} | {mrr:.3f} | {percentile(ms, 50):.1f} "
            f"| {percentile(ms, 95):.1f} | {any1:.3f} | {any_mrr:.3f} |"
        )
    if answers:
        n = len(answers)
        good_top = [a for a in answers if a.top_passage_hit]
        outside = sum(not a.from_top_passage and not a.abstained for a in answers)
        lines += [
            "",
            f"answer-hit {sum(a.hit for a in answers) / n:.3f} "
            f"(any: {sum(a.hit_any for a in answers) / n:.3f}); "
            f"abstained {sum(a.abstained for a in answers) / n:.3f}; "
            f"first citation outside the top passage {outside / n:.3f}; "
            f"answer-hit when the top passage is a hit "
            f"{sum(a.hit for a in good_top) / max(1, len(good_top)):.3f}",
        ]
    return "\n".join(lines)


def ceiling(questions: list[Question], chunks: list[Chunk]) -> float:
    """The best hit@1 any retriever of these chunks can reach. Identically worded questions
    get the same ranking, so one top chunk must serve all of them: per wording, count the
    most gold spans of that wording a single chunk overlaps."""
    by_source: dict[str, list[Span]] = defaultdict(list)
    for chunk in chunks:
        by_source[chunk.source].append((chunk.source, chunk.start, chunk.end))
    groups: dict[str, list[Span]] = defaultdict(list)
    for question in questions:
        groups[_normal(question.text)].append(question.gold)
    reachable = 0
    for golds in groups.values():
        spans = {span for source, _, _ in golds for span in by_source[source]}
        reachable += max((sum(overlaps(s, [g]) for g in golds) for s in spans), default=0)
    return reachable / len(questions) if questions else 0.0


def tune(retriever: Retriever, questions: list[Question]) -> tuple[float, ...]:
    """Grid-search the rerank weights for the best MRR@10 (then hit@1) on ``questions``."""
    chunks = retriever.index.chunks
    found: list[tuple[Candidates, np.ndarray]] = []
    for question in questions:
        candidates = retriever.candidates(question.text)
        gold = np.array(
            [
                overlaps((chunks[i].source, chunks[i].start, chunks[i].end), [question.gold])
                for i in candidates.ids
            ]
        )
        found.append((candidates, gold))
    width = max(len(c.ids) for c, _ in found)
    features = np.zeros((len(found), width, len(FEATURES)), dtype=np.float32)
    valid = np.zeros((len(found), width), dtype=bool)
    gold = np.zeros((len(found), width), dtype=bool)
    for row, (candidates, is_gold) in enumerate(found):
        features[row, : len(candidates.ids)] = candidates.features
        valid[row, : len(candidates.ids)] = True
        gold[row, : len(candidates.ids)] = is_gold
    grid = {
        "dense": [1.0],
        "lexical": [0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6],
        "title": [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8],
        "heading": [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 1.5, 2.0],
        "heading_words": [0.0, 0.05, 0.1, 0.2, 0.3],
    }
    combos = np.array(list(itertools.product(*(grid[name] for name in FEATURES))), np.float32)
    best: tuple[float, float, tuple[float, ...]] = (-1.0, -1.0, ())
    for batch in np.array_split(combos, max(1, len(combos) // 64)):
        scores = np.einsum("qcf,bf->bqc", features, batch)
        scores[:, ~valid] = -np.inf
        gold_best = np.where(gold, scores, -np.inf).max(axis=2)
        # Ties count against the gold chunk, so the search cannot profit from them.
        rank = 1 + ((scores >= gold_best[:, :, None]) & ~gold).sum(axis=2)
        rank[~np.isfinite(gold_best)] = DEPTH + 1
        mrr = np.where(rank <= DEPTH, 1.0 / rank, 0.0).mean(axis=1)
        hit1 = (rank == 1).mean(axis=1)
        for b in range(len(batch)):
            if (mrr[b], hit1[b]) > best[:2]:
                best = (float(mrr[b]), float(hit1[b]), tuple(float(w) for w in batch[b]))
    print(
        f"tuned on {len(questions)} dev questions: MRR@10 {best[0]:.3f}, hit@1 {best[1]:.3f}, "
        f"WEIGHTS = {best[2]} for {FEATURES}"
    )
    return best[2]


def spread(questions: list[Question], limit: int | None) -> list[Question]:
    """At most ``limit`` questions taken evenly through the file (all when no limit)."""
    if not limit or limit >= len(questions):
        return questions
    step = len(questions) / limit
    return [questions[int(i * step)] for i in range(limit)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_DATA / "corpus")
    parser.add_argument("--questions", type=Path, default=DEFAULT_DATA / "questions.jsonl")
    parser.add_argument("--index", type=Path, help="index folder (default: under benchmarks/out)")
    parser.add_argument("--half", choices=("all", "dev", "heldout"), default="all")
    parser.add_argument("--limit", type=int, help="evaluate a spread of this many questions")
    parser.add_argument("--tune", action="store_true", help="grid-search weights on dev")
    parser.add_argument("--no-answers", action="store_true", help="skip answer-hit (faster)")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="torch intra-op threads (default 1: on a busy 2-core machine two threads wait on "
        "each other and a one-question encode takes 10x longer)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import torch

    torch.set_num_threads(args.torch_threads)

    for path in (args.corpus, args.questions):
        if not path.exists():
            parser.error(f"{path} does not exist; pass --corpus and --questions")
    index_dir = args.index or OUT / f"index-{args.corpus.resolve().parent.name}"
    settings = Settings().with_overrides(corpus_dir=args.corpus, index_dir=index_dir)
    embedder = get_embedder(settings.model)
    began = time.perf_counter()
    index = open_index(settings, embedder)
    retriever = Retriever(index, embedder)
    print(
        f"index of {len(index.chunks)} chunks from {len(index.manifest['files'])} files "
        f"ready in {time.perf_counter() - began:.1f}s ({index_dir}); "
        f"torch threads {args.torch_threads}",
        flush=True,
    )

    questions = load_questions(args.questions)
    if args.tune:
        if args.half == "heldout":
            parser.error("--tune uses the dev half only")
        dev = spread([q for q in questions if q.half == "dev"], args.limit)
        retriever = Retriever(index, embedder, tune(retriever, dev))
    chosen = spread(
        [q for q in questions if args.half in ("all", q.half)] if not args.tune else dev,
        None if args.tune else args.limit,
    )
    results = {}
    for name, system in systems(retriever).items():
        results[name] = run(system, chosen, embedder)
        print(f"ran {name} on {len(chosen)} questions", flush=True)
    answers = None if args.no_answers else answer_all(Chatbot(retriever, settings), chosen)

    print(f"\nWEIGHTS {dict(zip(FEATURES, retriever.weights.tolist(), strict=True))}")
    print(
        "(any): also counting the gold span of an identically worded question; "
        f"hit@1 ceiling from identical wordings: {ceiling(chosen, index.chunks):.3f}\n"
    )
    groups = {
        "all": lambda q: True,
        "dev": lambda q: q.half == "dev",
        "heldout": lambda q: q.half == "heldout",
        "worded uniquely (no other question has the same words; all halves)": lambda q: (
            len(q.same_text_golds) == 1
        ),
        "shared text, worded uniquely (gold text also stands elsewhere; all halves)": lambda q: (
            q.shared and len(q.same_text_golds) == 1
        ),
    }
    for title, wanted in groups.items():
        picked = [i for i, q in enumerate(chosen) if wanted(q)]
        if not picked or (title != "all" and len(picked) == len(chosen)):
            continue
        print(
            report(
                title,
                [chosen[i] for i in picked],
                {name: [outcomes[i] for i in picked] for name, outcomes in results.items()},
                [answers[i] for i in picked] if answers else None,
            )
        )
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
