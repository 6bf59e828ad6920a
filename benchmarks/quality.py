"""Quality benchmark: retrieval, citations and abstention on every dev corpus, per half.

For each corpus (benchmarks/corpora.py: the seed corpus with its canned questions, the same
documents without their headings (seed-plain: a small folder of plain notes), guides (a
clinic's, a library's, a shop's, a router's and an employer's guides, with lay questions
written for this project), medquad-dev, covidqa-dev and chatty rewrites of medquad-dev
questions) and each half (dev, held-out) it prints:
- retrieval hit@1, recall@5 and MRR@10 of the product's retriever and, on the same chunks,
  of BM25 alone, dense MiniLM alone and reciprocal-rank fusion (RRF) of the two;
  "(any)" also counts the gold span of an identically worded question;
- of the answers (``Chatbot.answer``, the ``qa.ask`` path): first citation right (cite@1),
  any citation right, abstentions on these answerable questions, and the share of answers
  with confidence >= 0.8 whose first citation is right;
- off-corpus refusals: the corpus is asked the other corpora's questions (and its own
  must-abstain canned questions) and must abstain;
- multi-turn: follow-up turns of the corpus's benchmark conversations
  (benchmarks/conversations/) answered right, beside the same questions written out in full
  (the dataset's own wording) and in the turn's own words with what it refers to written in,
  each asked alone, and topic switches not dragged back (the first citation answers the new
  question, or at least is not from the documents of the topic left, or is the one the
  question gets asked alone);
- answer latency p50/p95 (no question vectors cached).

    python benchmarks/quality.py                        # every corpus (about 15 minutes)
    python benchmarks/quality.py --corpora covidqa-dev --half dev --limit 200
    python benchmarks/quality.py --corpora seed --store milvus://127.0.0.1:19530
    make bench-quality

Indexes are built once under benchmarks/out/ and reused; results are also written to
benchmarks/out/quality.json. With ``--store`` each corpus's index is copied from its FAISS
files into that store (collections named after the corpus; nothing re-embedded) and every
system reads it there.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from corpora import (  # noqa: E402
    OUT,
    Conversation,
    Corpus,
    Question,
    Span,
    dev_corpora,
    first_hit,
    foreign,
    load_jsonl,
    overlaps,
)

from qa.chat import Chatbot  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embedding import Embedder, get_embedder  # noqa: E402
from qa.index import build_index, open_index  # noqa: E402
from qa.question import analyse  # noqa: E402
from qa.retrieval import Retriever  # noqa: E402
from qa.stores import open_backend  # noqa: E402
from qa.stores.base import IndexStore  # noqa: E402

DEPTH = 10  # ranks looked at: MRR@10
RRF_K = 60  # the usual constant of reciprocal-rank fusion
POOL = 100  # how deep each ranker is read for fusion
OFF_CORPUS = 150  # questions of each other corpus asked, per half
CONFIDENT = 0.8

System = Callable[[str], list[Span]]


def settings_for(corpus: Corpus) -> Settings:
    return Settings().with_overrides(corpus_dir=corpus.folder, index_dir=corpus.index_dir)


def copied(
    store: str, name: str, files: Settings, index: IndexStore
) -> tuple[Settings, IndexStore]:
    """The FAISS index ``index`` of ``files`` copied into ``store`` as speed.py --stores milvus
    copies it (a build that reuses every vector), collections named after the corpus ``name``
    on a milvus:// server; the settings that read the copy and the copy."""
    if store.startswith("milvus://"):
        store = f"{store.rstrip('/')}/{name.replace('-', '_')}"
    settings = files.with_overrides(store=store)
    began = time.perf_counter()
    copy = build_index(
        settings, get_embedder(settings.model), index, backend=open_backend(settings)
    )
    print(
        f"{name}: copied into {store} in {time.perf_counter() - began:.0f}s "
        f"({copy.manifest['embedded_last_build']} chunks embedded)",
        flush=True,
    )
    return settings, copy


def systems(bot: Chatbot) -> dict[str, System]:
    """The product's retriever (on the question as it analyses it) and three baselines (on the
    question as typed), all over the same indexed chunks."""
    retriever = bot.retriever
    c = retriever.index.catalog

    def spans(ids: Iterable[int]) -> list[Span]:
        return [(c.sources[c.source_of[i]], int(c.starts[i]), int(c.ends[i])) for i in ids]

    def bm25_ids(query: str, depth: int) -> list[int]:
        scores = retriever.lexical.scores(query)
        depth = min(depth, len(scores))
        top = np.argpartition(-scores, depth - 1)[:depth]
        return [int(i) for i in top[np.lexsort((top, -scores[top]))] if scores[i] > 0]

    def dense_ids(query: str, depth: int) -> list[int]:
        """The nearest chunks, ties (one passage in several documents) in id order so that
        every store ranks alike: twice ``depth`` searched, scored again on the chunk vectors."""
        vector = retriever.embedder.encode_query(query)
        _, ids = retriever.index.search(vector, 2 * depth)
        scores = retriever.index.chunk_vectors(ids) @ vector
        return [int(i) for i in ids[np.lexsort((ids, -scores))][:depth]]

    def product(query: str) -> list[Span]:
        analysed = analyse(query, bot.lexicon)
        return [(p.source, p.start, p.end) for p in retriever.retrieve(analysed, DEPTH)]

    def rrf(query: str) -> list[Span]:
        fused: dict[int, float] = {}
        for ranking in (dense_ids(query, POOL), bm25_ids(query, POOL)):
            for rank, i in enumerate(ranking, 1):
                fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank)
        return spans(sorted(fused, key=lambda i: (-fused[i], i))[:DEPTH])

    return {
        "product": product,
        "BM25 alone": lambda q: spans(bm25_ids(q, DEPTH)),
        "dense alone": lambda q: spans(dense_ids(q, DEPTH)),
        "RRF (BM25 + dense)": rrf,
    }


@dataclass
class Ranked:
    rank: int  # of the first passage in a gold span (0: not in the top DEPTH)
    rank_any: int  # same, also counting golds of identically worded questions


@dataclass
class Answered:
    cite1: bool  # first citation overlaps a gold span
    cite1_any: bool
    cited: bool  # some citation overlaps a gold span
    abstained: bool
    confidence: float
    ms: float


def rank_all(system: System, questions: list[Question]) -> list[Ranked]:
    out = []
    for question in questions:
        ranked = system(question.text)
        out.append(
            Ranked(first_hit(ranked, question.golds), first_hit(ranked, question.same_text_golds))
        )
    return out


def answer_all(bot: Chatbot, questions: list[Question], embedder: Embedder) -> list[Answered]:
    """Answer as ``qa.ask`` does (a conversation when the question has earlier turns)."""
    out = []
    for question in questions:
        embedder.forget_recent()  # identical wordings must not be free
        conversation = bot.fork()
        for earlier in question.after:
            conversation.ask(earlier)
        began = time.perf_counter()
        answer = conversation.ask(question.text) if question.after else bot.answer(question.text)
        ms = 1000 * (time.perf_counter() - began)
        spans = [(c.source, c.start, c.end) for c in answer.citations]
        out.append(
            Answered(
                cite1=bool(spans) and overlaps(spans[0], question.golds),
                cite1_any=bool(spans) and overlaps(spans[0], question.same_text_golds),
                cited=any(overlaps(s, question.golds) for s in spans),
                abstained=answer.abstained,
                confidence=float(getattr(answer, "confidence", 0.0)),
                ms=ms,
            )
        )
    return out


def converse(bot: Chatbot, conversations: list[Conversation]) -> dict[str, float]:
    """Follow-up turns answered right in their conversation, written out in full alone (the
    dataset's own wording) and in their own words with what they refer to written in, asked
    alone (what reading the conversation can reach at best); topic switches not dragged back:
    the first citation answers the new question, or at least is not from a document of the
    topic left (the previous turn's gold documents), or is the one the same question gets when
    asked alone (the conversation did not move it)."""

    def right_alone(question: str, golds: tuple[Span, ...]) -> bool:
        cited = bot.answer(question).citations[:1]
        return bool(cited) and overlaps((cited[0].source, cited[0].start, cited[0].end), golds)

    follow, full, resolved, switch = [], [], [], []
    for talk in conversations:
        chat = bot.fork()
        for n, turn in enumerate(talk.turns):
            answer = chat.ask(turn.ask)
            first = [(c.source, c.start, c.end) for c in answer.citations[:1]]
            if turn.switch:
                left = {source for source, _, _ in talk.turns[n - 1].golds}
                alone = [(c.source, c.start, c.end) for c in bot.answer(turn.ask).citations[:1]]
                moved = first != alone and first[0][0] in left if first else True
                switch.append(bool(first) and (overlaps(first[0], turn.golds) or not moved))
            elif n and turn.full:
                follow.append(bool(first) and overlaps(first[0], turn.golds))
                full.append(right_alone(turn.full, turn.golds))
                if turn.resolved:
                    resolved.append(right_alone(turn.resolved, turn.golds))
    return {
        "follow-up turns": len(follow),
        "follow-up right": sum(follow) / max(1, len(follow)),
        "written in full right": sum(full) / max(1, len(full)),
        "resolved turns": len(resolved),
        "resolved right": sum(resolved) / max(1, len(resolved)),
        "switches": len(switch),
        "switch right": sum(switch) / max(1, len(switch)),
    }


def metrics(ranks: list[int]) -> tuple[float, float, float]:
    """(hit@1, recall@5, MRR@10) for 1-based first-hit ranks (0 = missed)."""
    n = max(1, len(ranks))
    return (
        sum(r == 1 for r in ranks) / n,
        sum(0 < r <= 5 for r in ranks) / n,
        sum(1 / r for r in ranks if 0 < r <= DEPTH) / n,
    )


def spread(questions: list[Question], limit: int | None) -> list[Question]:
    """At most ``limit`` questions taken evenly through the list (all when no limit)."""
    if not limit or limit >= len(questions):
        return questions
    step = len(questions) / limit
    return [questions[int(i * step)] for i in range(limit)]


def evaluate(
    corpus: Corpus, others: list[Corpus], halves: list[str], limit: int | None, store: str = ""
) -> dict[str, dict]:
    """Every figure of one corpus, per half (its index read from ``store`` when given)."""
    settings = settings_for(corpus)
    embedder = get_embedder(settings.model)
    began = time.perf_counter()
    index = open_index(settings, embedder)
    if store:
        settings, index = copied(store, corpus.index_of or corpus.name, settings, index)
    retriever = Retriever(index, embedder)
    bot = Chatbot(retriever, settings)
    print(
        f"{corpus.name}: {index.manifest['n_chunks']} chunks from "
        f"{len(index.manifest['files'])} files, "
        f"ready in {time.perf_counter() - began:.0f}s",
        flush=True,
    )
    found = {}
    for half in halves:
        questions = spread([q for q in corpus.questions if q.half == half], limit)
        single = [q for q in questions if not q.after]
        results = {}
        for name, system in systems(bot).items():
            system(single[0].text)  # warm-up
            ranked = rank_all(system, single)
            hit1, rec5, mrr = metrics([r.rank for r in ranked])
            any1, _, any_mrr = metrics([r.rank_any for r in ranked])
            results[name] = {
                "hit@1": hit1,
                "recall@5": rec5,
                "MRR@10": mrr,
                "hit@1 any": any1,
                "MRR@10 any": any_mrr,
            }
        answered = answer_all(bot, questions, embedder)
        asked = [
            q
            for other in foreign(corpus, others)
            for q in spread(
                [q for q in other.questions if q.half == half and not q.after], OFF_CORPUS
            )
        ] + [q for q in corpus.refuse if q.half == half]
        refused = [a.abstained for a in answer_all(bot, asked, embedder)] if asked else []
        n = max(1, len(answered))
        confident = [a for a in answered if not a.abstained and a.confidence >= CONFIDENT]
        found[half] = {
            "questions": len(questions),
            "retrieval": results,
            "cite@1": sum(a.cite1 for a in answered) / n,
            "cite@1 any": sum(a.cite1_any for a in answered) / n,
            "cited": sum(a.cited for a in answered) / n,
            "abstained": sum(a.abstained for a in answered) / n,
            "confident share": len(confident) / n,
            "confident right": sum(a.cite1 for a in confident) / max(1, len(confident)),
            "off-corpus asked": len(refused),
            "off-corpus refused": sum(refused) / max(1, len(refused)),
            **converse(bot, [c for c in corpus.conversations if c.half == half]),
            "p50 ms": float(np.percentile([a.ms for a in answered], 50)),
            "p95 ms": float(np.percentile([a.ms for a in answered], 95)),
        }
        print(f"  {half}: {len(questions)} questions, {len(refused)} off-corpus", flush=True)
    return found


def table(figures: dict[str, dict[str, dict]]) -> str:
    """The retrieval table and the answer table, one row per corpus and half."""
    lines = [
        "| corpus | half | n | retriever | hit@1 | recall@5 | MRR@10 | hit@1 (any) "
        "| MRR@10 (any) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for corpus, halves in figures.items():
        for half, f in halves.items():
            for name, r in f["retrieval"].items():
                bold = "**" if name == "product" else ""
                lines.append(
                    f"| {corpus} | {half} | {f['questions']} | {bold}{name}{bold} "
                    f"| {r['hit@1']:.3f} | {r['recall@5']:.3f} | {r['MRR@10']:.3f} "
                    f"| {r['hit@1 any']:.3f} | {r['MRR@10 any']:.3f} |"
                )
    lines += [
        "",
        "| corpus | half | cite@1 | cite@1 (any) | any citation right | abstained (answerable) "
        "| off-corpus refused | conf >= 0.8: share / right | p50 / p95 ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for corpus, halves in figures.items():
        for half, f in halves.items():
            lines.append(
                f"| {corpus} | {half} | {f['cite@1']:.3f} | {f['cite@1 any']:.3f} "
                f"| {f['cited']:.3f} | {f['abstained']:.3f} "
                f"| {f['off-corpus refused']:.3f} ({f['off-corpus asked']}) "
                f"| {f['confident share']:.2f} / {f['confident right']:.3f} "
                f"| {f['p50 ms']:.0f} / {f['p95 ms']:.0f} |"
            )
    lines += [
        "",
        "| corpus | half | follow-up turns | right in conversation | right written in full "
        "| right with reference written in | topic switches | switches right |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for corpus, halves in figures.items():
        for half, f in halves.items():
            if f["follow-up turns"] or f["switches"]:
                written = f"{f['resolved right']:.3f}" if f["resolved turns"] else "-"
                lines.append(
                    f"| {corpus} | {half} | {f['follow-up turns']} | {f['follow-up right']:.3f} "
                    f"| {f['written in full right']:.3f} | {written} | {f['switches']} "
                    f"| {f['switch right']:.3f} |"
                )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpora", help="comma-separated names (default: all dev corpora)")
    parser.add_argument("--corpus", type=Path, help="score this folder instead (with --questions)")
    parser.add_argument("--questions", type=Path, help="its questions.jsonl (shared format)")
    parser.add_argument("--index", type=Path, help="index folder for --corpus")
    parser.add_argument("--half", choices=("all", "dev", "heldout"), default="all")
    parser.add_argument("--limit", type=int, help="at most this many questions per half")
    parser.add_argument("--out", type=Path, default=OUT / "quality.json")
    parser.add_argument(
        "--store",
        default="",
        help="read each index from this store (milvus://HOST:PORT or a Milvus Lite .db), "
        "copied from its FAISS files (default: the FAISS files)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import torch

    torch.set_num_threads(1)  # one question at a time, as a server answers it
    halves = ["dev", "heldout"] if args.half == "all" else [args.half]
    figures = {}
    if args.corpus:
        if not args.questions:
            parser.error("--corpus needs --questions")
        corpus = load_jsonl(args.corpus.name, args.corpus, args.questions, index_dir=args.index)
        available = [c for c in dev_corpora(available_only=True) if c.folder != corpus.folder]
        figures[corpus.name] = evaluate(corpus, available, halves, args.limit, args.store)
    else:
        everything = dev_corpora()
        wanted = args.corpora.split(",") if args.corpora else [c.name for c in everything]
        for corpus in everything:
            if corpus.name in wanted:
                others = [c for c in everything if c.name != corpus.name]
                figures[corpus.name] = evaluate(corpus, others, halves, args.limit, args.store)
    print()
    print(table(figures))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
