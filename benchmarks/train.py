"""Fit the product's small learned scorers on the dev halves of every dev corpus together.

(Every dev corpus but seed-plain, the seed documents without their headings: it is measured
by benchmarks/quality.py, not fitted on; see --corpora.)

    python benchmarks/train.py passage    # the retriever's passage model, then:
    python benchmarks/train.py sentence   # the composer's sentence model (uses the passage model)
    python benchmarks/train.py answer     # abstention (and its threshold), then confidence

Each corpus weighs the same in a fit, however many questions it has, so that no corpus shape
dominates. The model's size (hidden units, none for a linear model) and regularisation are
chosen by two-fold cross-validation inside the dev halves; the held-out halves are only
reported. Fitting is deterministic (fixed initial weights from a seeded generator, L-BFGS); the
model is written to qa/models/<name>.json with the figures it reached.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import logging
import os
import pickle
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from corpora import OUT, Corpus, Question, dev_corpora, foreign, overlaps  # noqa: E402

from qa import abstain, compose, learned, scoring, templates  # noqa: E402
from qa.chat import Chatbot  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embedding import get_embedder  # noqa: E402
from qa.index import open_index  # noqa: E402
from qa.question import analyse  # noqa: E402
from qa.retrieval import FEATURES, Retriever  # noqa: E402

SIZES = (0, 8, 16)  # hidden units tried (0: linear)
PENALTIES = (1e-3, 1e-2, 1e-1)  # L2 penalties tried
# A corpus's total weight is (its questions)^BALANCE: 0 weighs every corpus the same, 0.5
# lets a corpus of 1,500 questions count more than one of 20 (whose figures are noisier).
BALANCES = (0.0, 0.5)
SEED = 0
POINT_L2 = 1e-2  # penalty of the confidence model
# The abstention model stays linear: an MLP of 8 units won on dev folds (log loss 0.145
# against 0.163) but lost on the held-out halves of the seed corpus (17.8% false abstentions
# against 8.9%) - it learned the dev corpora rather than what answering looks like.
ABSTAIN_SIZES = (0,)
FOREIGN = 300  # questions of each other corpus asked of a corpus
MAX_ABSTAIN = 0.05  # targets the abstention threshold is chosen for, on the dev halves
MIN_REFUSE = 0.95
UNKNOWN_FLOORS = (-1.0, 0.1, 0.15, 0.2, 0.25)  # -1: no such rule
YES_NO_GAPS = (1.0, 0.5, 1 / 3)  # 1: no such rule


@dataclass
class Group:
    """One question's candidates: features, which are right, its corpus, half and fold key."""

    corpus: str
    half: str
    key: str  # what folds split on: the gold document (or the question, as halves do)
    features: np.ndarray
    gold: np.ndarray


def open_bot(corpus: Corpus) -> Chatbot:
    settings = Settings().with_overrides(corpus_dir=corpus.folder, index_dir=corpus.index_dir)
    embedder = get_embedder(settings.model)
    return Chatbot(Retriever(open_index(settings, embedder), embedder), settings)


def passage_groups(corpus: Corpus, bot: Chatbot) -> list[Group]:
    """Candidate features of every single-turn question of ``corpus``."""
    groups = []
    chunks = bot.retriever.index.chunks
    for question in corpus.questions:
        if question.after:
            continue
        found = bot.retriever.candidates(analyse(question.text, bot.lexicon))
        spans = [(chunks[i].source, chunks[i].start, chunks[i].end) for i in found.ids]
        gold = np.array([overlaps(span, question.golds) for span in spans], dtype=bool)
        key = question.golds[0][0] if corpus.name != "seed" else question.text
        groups.append(Group(corpus.name, question.half, key, found.features, gold))
    return groups


def fit_network(
    x: np.ndarray,
    hidden: int,
    l2: float,
    output: Callable[[np.ndarray], tuple[float, np.ndarray]],
    name: str,
    names: tuple[str, ...],
) -> learned.Model:
    """A model (one tanh layer of ``hidden`` units, or linear) minimising ``output``'s loss
    of the rows' logits plus an L2 penalty; ``output`` gives (loss, d loss / d logits)."""
    from scipy.optimize import minimize

    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / scale
    d = z.shape[1]
    shapes = [(d, hidden), (hidden,), (hidden,), ()] if hidden else [(d,), ()]
    rng = np.random.default_rng(SEED)
    initial = np.concatenate(
        [
            rng.normal(0.0, 0.3, int(np.prod(s)))
            if len(s) and i != 1
            else np.zeros(int(np.prod(s)))
            for i, s in enumerate(shapes)
        ]
    )

    def unpack(p: np.ndarray) -> list[np.ndarray]:
        out, at = [], 0
        for s in shapes:
            size = int(np.prod(s))
            out.append(p[at : at + size].reshape(s))
            at += size
        return out

    def loss(p: np.ndarray) -> tuple[float, np.ndarray]:
        parts = unpack(p)
        if hidden:
            w1, b1, w2, b2 = parts
            a = np.tanh(z @ w1 + b1)
            value, ds = output(a @ w2 + b2)
            da = np.outer(ds, w2) * (1.0 - a * a)
            grads = [z.T @ da + l2 * w1, da.sum(axis=0), a.T @ ds + l2 * w2, ds.sum()]
            value += 0.5 * l2 * float((w1 * w1).sum() + (w2 * w2).sum())
        else:
            w2, b2 = parts
            value, ds = output(z @ w2 + b2)
            grads = [z.T @ ds + l2 * w2, ds.sum()]
            value += 0.5 * l2 * float(w2 @ w2)
        return value, np.concatenate([np.ravel(g) for g in grads])

    result = minimize(loss, initial, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    parts = unpack(result.x)
    hidden_layer = (parts[0], parts[1]) if hidden else None
    return learned.Model(name, names, mean, scale, hidden_layer, (parts[-2], float(parts[-1])))


def fit_listwise(
    groups: list[Group],
    hidden: int,
    l2: float,
    balance: float,
    name: str,
    names: tuple[str, ...] = FEATURES,
) -> learned.Model:
    """A model whose softmax over each question's candidates puts the most probability on its
    gold chunks (the log of the gold chunks' total share; a corpus weighs n^balance)."""
    usable = [g for g in groups if g.gold.any()]
    x = np.vstack([g.features for g in usable]).astype(np.float64)
    gold = np.concatenate([g.gold for g in usable])
    starts = np.cumsum([0, *(len(g.gold) for g in usable)])[:-1]
    per_corpus: dict[str, int] = {}
    for g in usable:
        per_corpus[g.corpus] = per_corpus.get(g.corpus, 0) + 1
    weight = np.array([per_corpus[g.corpus] ** (balance - 1.0) for g in usable])
    weight /= weight.sum()
    group_of = np.repeat(np.arange(len(usable)), [len(g.gold) for g in usable])

    def output(s: np.ndarray) -> tuple[float, np.ndarray]:
        top = np.maximum.reduceat(s, starts)
        e = np.exp(s - top[group_of])
        share = e / np.add.reduceat(e, starts)[group_of]
        gold_share = np.add.reduceat(np.where(gold, share, 0.0), starts)
        value = -float(weight @ np.log(gold_share + 1e-300))
        ds = weight[group_of] * (share - np.where(gold, share / gold_share[group_of], 0.0))
        return value, ds

    return fit_network(x, hidden, l2, output, name, names)


def fit_pointwise(
    x: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    hidden: int,
    l2: float,
    name: str,
    names: tuple[str, ...],
) -> learned.Model:
    """A model of P(y = 1 | x) (weighted rows): logistic regression, or a small MLP."""
    weight = weight / weight.sum()

    def output(s: np.ndarray) -> tuple[float, np.ndarray]:
        p = 1.0 / (1.0 + np.exp(-s))
        value = -float(weight @ (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)))
        return value, weight * (p - y)

    return fit_network(x, hidden, l2, output, name, names)


def ranks(groups: list[Group], model: learned.Model) -> list[int]:
    """Rank of each question's best gold chunk under ``model`` (ties count against it)."""
    out = []
    for g in groups:
        scores = model.logit(g.features)
        if g.gold.any():
            best = scores[g.gold].max()
            out.append(1 + int(((scores >= best) & ~g.gold).sum()))
        else:
            out.append(10**6)
    return out


def figures(groups: list[Group], model: learned.Model) -> dict[str, dict[str, float]]:
    """hit@1 and MRR@10 per corpus and half."""
    table: dict[str, list[int]] = {}
    for g, rank in zip(groups, ranks(groups, model), strict=True):
        table.setdefault(f"{g.corpus} {g.half}", []).append(rank)
    return {
        key: {
            "hit@1": float(np.mean([r == 1 for r in found])),
            "MRR@10": float(np.mean([1 / r if r <= 10 else 0.0 for r in found])),
        }
        for key, found in sorted(table.items())
    }


def cross_validate(dev: list[Group], names: tuple[str, ...]) -> tuple[int, float, float]:
    """The (hidden units, L2, balance) with the best hit@1 + MRR@10 on held-back folds of the
    dev halves (two folds, split by the fold key), averaged over corpora weighted by the square
    root of their questions (a figure of 20 questions is noisier than one of 1,500)."""
    fold = [hashlib.sha256(("fold:" + g.key).encode()).digest()[0] % 2 for g in dev]
    best: tuple[float, int, float, float] = (-1.0, 0, 0.0, 0.0)
    for hidden, l2, balance in itertools.product(SIZES, PENALTIES, BALANCES):
        scores = []
        for k in (0, 1):
            train = [g for g, f in zip(dev, fold, strict=True) if f != k]
            test = [g for g, f in zip(dev, fold, strict=True) if f == k]
            found = figures(test, fit_listwise(train, hidden, l2, balance, "cv", names))
            counts = {c: sum(g.corpus == c for g in test) for c in {g.corpus for g in test}}
            weight = {key: np.sqrt(counts[key.rsplit(" ", 1)[0]]) for key in found}
            scores.append(
                sum(weight[k] * (v["hit@1"] + v["MRR@10"]) for k, v in found.items())
                / sum(weight.values())
            )
        score = float(np.mean(scores))
        print(
            f"  hidden {hidden:2d}, L2 {l2:g}, balance {balance:g}: "
            f"cross-validated score {score:.4f}",
            flush=True,
        )
        if score > best[0]:
            best = (score, hidden, l2, balance)
    return best[1], best[2], best[3]


@dataclass
class Row:
    """One question asked of one corpus, for the abstention and confidence models."""

    corpus: str  # the corpus asked
    half: str
    own: bool  # the question belongs to the corpus (answerable) or to another (must abstain)
    lead_right: bool  # the answer's lead sentence lies in a gold span
    elsewhere: bool  # refused whatever the model says: it names another document (abstain)
    answerable: np.ndarray  # ANSWERABLE_FEATURES
    confidence: np.ndarray  # CONFIDENCE_FEATURES ('answerable' is filled in once it is fitted)


def sentence_groups(corpus: Corpus, bot: Chatbot) -> list[Group]:
    """Sentence features of every single-turn question of ``corpus`` (its retrieved passages
    ranked by the shipped passage model)."""
    groups = []
    for question in corpus.questions:
        if question.after:
            continue
        analysed = analyse(question.text, bot.lexicon)
        retrieval = bot.retriever.search(analysed, bot.settings.top_k)
        evidence = scoring.describe(analysed, retrieval, bot.retriever)
        if evidence is None:
            continue
        spans = [(s.passage.source, s.start, s.end) for s in evidence.sentences]
        gold = np.array([overlaps(span, question.golds) for span in spans], dtype=bool)
        key = question.golds[0][0] if corpus.name != "seed" else question.text
        groups.append(Group(corpus.name, question.half, key, evidence.features, gold))
    return groups


def answer_rows(corpus: Corpus, bot: Chatbot, others: list[Question]) -> list[Row]:
    """Abstention and confidence features of the corpus's own questions and of ``others``
    (other corpora's questions) and its own must-abstain cases, asked of it."""
    rows = []
    asked = [(q, True) for q in corpus.questions if not q.after]
    asked += [(q, False) for q in [*others, *corpus.refuse]]
    for question, own in asked:
        analysed = analyse(question.text, bot.lexicon)
        retrieval = bot.retriever.search(analysed, bot.settings.top_k)
        evidence = scoring.score(analysed, retrieval, bot.retriever)
        lead = templates.lead_sentence(analysed, evidence) if evidence is not None else None
        if evidence is None or lead is None:
            continue
        sentence = evidence.sentences[lead]
        right = own and overlaps(
            (sentence.passage.source, sentence.start, sentence.end), question.golds
        )
        rows.append(
            Row(
                corpus.name,
                question.half,
                own,
                bool(right),
                abstain.elsewhere(analysed, evidence, lead, bot.retriever),
                abstain.features(analysed, retrieval, evidence, lead, bot.lexicon, bot.retriever),
                compose.confidence_features(evidence, lead, 0.0),
            )
        )
    return rows


def cell_weights(rows: list[Row], label: list[bool]) -> np.ndarray:
    """Row weights giving every (corpus, label) cell the same total weight."""
    cells: dict[tuple[str, bool], int] = {}
    for row, y in zip(rows, label, strict=True):
        cells[(row.corpus, y)] = cells.get((row.corpus, y), 0) + 1
    return np.array([1.0 / cells[(r.corpus, y)] for r, y in zip(rows, label, strict=True)])


def bot_answers(row: Row, p: float, rules: abstain.Rules) -> bool:
    """Whether the bot answers a row of probability ``p`` under ``rules``, as compose does:
    the rules pass and the question does not name another document."""
    return not row.elsewhere and rules.answers(row.answerable, p)


def abstention_figures(
    rows: list[Row], p: np.ndarray, rules: abstain.Rules
) -> dict[str, dict[str, float]]:
    """Per corpus and half: false abstentions on own questions, refusals of foreign ones."""
    refused = [not bot_answers(r, float(pi), rules) for r, pi in zip(rows, p, strict=True)]
    table: dict[str, dict[str, float]] = {}
    for key in sorted({f"{r.corpus} {r.half}" for r in rows}):
        own = [
            x for r, x in zip(rows, refused, strict=True) if f"{r.corpus} {r.half}" == key and r.own
        ]
        others = [
            x
            for r, x in zip(rows, refused, strict=True)
            if f"{r.corpus} {r.half}" == key and not r.own
        ]
        table[key] = {
            "abstained": float(np.mean(own)) if own else 0.0,
            "refused": float(np.mean(others)) if others else 1.0,
        }
    return table


def choose_rules(rows: list[Row], p: np.ndarray) -> abstain.Rules:
    """The threshold and rules with the largest worst slack, over dev corpora, of the two
    targets (at most MAX_ABSTAIN false abstentions, at least MIN_REFUSE refusals), then the
    largest mean slack; ties go to the rules that refuse least (listed first)."""
    best: tuple[float, float, abstain.Rules] = (-np.inf, -np.inf, abstain.Rules(0.5, -1.0, 1.0))
    for floor, gap in itertools.product(UNKNOWN_FLOORS, YES_NO_GAPS):
        for threshold in np.linspace(0.01, 0.99, 99):
            rules = abstain.Rules(round(float(threshold), 2), floor, gap)
            slacks = [
                slack
                for v in abstention_figures(rows, p, rules).values()
                for slack in (MAX_ABSTAIN - v["abstained"], v["refused"] - MIN_REFUSE)
            ]
            worst, mean = round(min(slacks), 3), round(float(np.mean(slacks)), 4)
            if (worst, mean) > best[:2]:
                best = (worst, mean, rules)
    return best[2]


def collect(kind: str, names: list[str], refresh: bool) -> list:
    """Training material of one kind for every corpus, cached under benchmarks/out/ by the
    code, the models it was computed with and the questions of every dev corpus (a corpus is
    also asked the others' questions)."""
    corpora = dev_corpora(names)
    everything = dev_corpora()
    depends = {"passage": [], "sentence": ["passage"], "answer": ["passage", "sentence"]}[kind]
    inputs = [learned.MODELS / f"{m}.json" for m in depends] + sorted((ROOT / "qa").glob("*.py"))
    inputs.append(Path(__file__))  # the rows are computed here too
    asked = [q for c in everything for q in (*c.questions, *c.refuse)]
    questions = "\n".join(f"{q.half} {q.text} {q.golds} {q.after}" for q in asked).encode()
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in inputs) + questions)
    stamp = digest.hexdigest()[:12]
    found: list = []
    for corpus in corpora:
        cache = OUT / f"{kind}-{corpus.name}-{stamp}.pickle"
        kind_class = Row if kind == "answer" else Group
        if cache.exists() and not refresh:
            found += [kind_class(**item) for item in pickle.loads(cache.read_bytes())]
            continue
        print(f"computing {kind} material for {corpus.name}", flush=True)
        bot = open_bot(corpus)
        if kind == "passage":
            material = passage_groups(corpus, bot)
        elif kind == "sentence":
            material = sentence_groups(corpus, bot)
        else:
            others = [
                q
                for other in foreign(corpus, everything)
                for q in spread([q for q in other.questions if not q.after], FOREIGN)
            ]
            material = answer_rows(corpus, bot, [] if corpus.index_of else others)
        OUT.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps([asdict(item) for item in material]))
        found += material
    return found


def spread(questions: list[Question], limit: int) -> list[Question]:
    """At most ``limit`` questions taken evenly through the list."""
    if len(questions) <= limit:
        return questions
    step = len(questions) / limit
    return [questions[int(i * step)] for i in range(limit)]


def train_ranker(kind: str, groups: list[Group], args: argparse.Namespace) -> None:
    """Fit a listwise model (passage or sentence) with cross-validated size and penalty."""
    names = FEATURES if kind == "passage" else scoring.SENTENCE_FEATURES
    dev = [g for g in groups if g.half == "dev"]
    if args.size is None or args.l2 is None or args.balance is None:
        hidden, l2, balance = cross_validate(dev, names)
    else:
        hidden, l2, balance = args.size, args.l2, args.balance
    model = fit_listwise(dev, hidden, l2, balance, kind, names)
    found = figures(groups, model)
    print(f"chosen: hidden {hidden}, L2 {l2:g}, balance {balance:g}; fitted on all dev halves")
    for key, values in found.items():
        print(f"  {key:28s} hit@1 {values['hit@1']:.3f}  MRR@10 {values['MRR@10']:.3f}")
    write(model, args, hidden_units=hidden, l2=l2, balance=balance, figures=found)


def cross_validate_pointwise(
    dev: list[Row], x: np.ndarray, y: np.ndarray, weight: np.ndarray
) -> tuple[int, float]:
    """The (hidden units, L2) of the abstention model with the lowest weighted log loss on
    held-back folds of the dev halves (two folds, split by question)."""
    fold = np.array([hashlib.sha256(f"fold:{i}".encode()).digest()[0] % 2 for i in range(len(dev))])
    best: tuple[float, int, float] = (np.inf, 0, 0.0)
    for hidden, l2 in itertools.product(ABSTAIN_SIZES, PENALTIES):
        losses = []
        for k in (0, 1):
            fit = fit_pointwise(
                x[fold != k],
                y[fold != k],
                weight[fold != k],
                hidden,
                l2,
                "cv",
                abstain.ANSWERABLE_FEATURES,
            )
            p = np.clip(fit.probability(x[fold == k]), 1e-9, 1 - 1e-9)
            w = weight[fold == k] / weight[fold == k].sum()
            losses.append(
                -float(w @ (y[fold == k] * np.log(p) + (1 - y[fold == k]) * np.log(1 - p)))
            )
        value = float(np.mean(losses))
        print(f"  hidden {hidden:2d}, L2 {l2:g}: cross-validated log loss {value:.4f}", flush=True)
        if value < best[0]:
            best = (value, hidden, l2)
    return best[1], best[2]


def train_answer(rows: list[Row], args: argparse.Namespace) -> None:
    """Fit the abstention model and its threshold, then the confidence model."""
    dev = [r for r in rows if r.half == "dev"]
    x = np.vstack([r.answerable for r in dev])
    y = np.array([r.own for r in dev], dtype=float)
    weight = cell_weights(dev, [r.own for r in dev])
    hidden, l2 = cross_validate_pointwise(dev, x, y, weight)
    model = fit_pointwise(x, y, weight, hidden, l2, "answerable", abstain.ANSWERABLE_FEATURES)
    p_all = model.probability(np.vstack([r.answerable for r in rows]))
    p_dev = model.probability(x)
    rules = choose_rules(dev, p_dev)
    found = abstention_figures(rows, p_all, rules)
    print(f"abstention rules: {rules}")
    for key, values in found.items():
        print(
            f"  {key:28s} abstained (own) {values['abstained']:.3f}  "
            f"refused (foreign) {values['refused']:.3f}"
        )
    write(
        model,
        args,
        threshold=rules.threshold,
        unknown_floor=rules.unknown_floor,
        yes_no_gap=rules.yes_no_gap,
        hidden_units=hidden,
        l2=l2,
        figures=found,
    )

    answered = [i for i, r in enumerate(rows) if bot_answers(r, float(p_all[i]), rules)]
    slot = compose.CONFIDENCE_FEATURES.index("answerable")
    cx = np.vstack([rows[i].confidence for i in answered])
    cx[:, slot] = p_all[answered]
    cy = np.array([rows[i].lead_right for i in answered], dtype=float)
    is_dev = np.array([rows[i].half == "dev" for i in answered])
    picked = [rows[i] for i in answered if rows[i].half == "dev"]
    confident = fit_pointwise(
        cx[is_dev],
        cy[is_dev],
        cell_weights(picked, [True] * len(picked)),
        0,
        POINT_L2,
        "confidence",
        compose.CONFIDENCE_FEATURES,
    )
    c_all = confident.probability(cx)
    calibration = {}
    for key in sorted({f"{rows[i].corpus} {rows[i].half}" for i in answered}):
        mask = np.array([f"{rows[i].corpus} {rows[i].half}" == key for i in answered])
        high = mask & (c_all >= 0.8)
        calibration[key] = {
            "answers": int(mask.sum()),
            "mean confidence": float(c_all[mask].mean()),
            "right": float(cy[mask].mean()),
            "confidence >= 0.8": int(high.sum()),
            "right when >= 0.8": float(cy[high].mean()) if high.any() else 0.0,
        }
        print(f"  {key:28s} {calibration[key]}")
    write(confident, args, l2=POINT_L2, figures=calibration)


def write(model: learned.Model, args: argparse.Namespace, **extra: object) -> None:
    if args.dry_run:
        return
    path = learned.MODELS / f"{model.name}.json"
    data = model.to_dict(fitted_on="dev halves of " + args.corpora, **extra)
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", choices=("passage", "sentence", "answer"))
    # seed-plain is measured, not fitted on: adding it to the abstention model's fit traded
    # covidqa-dev and medquad-dev for it (README, 'A folder without headings')
    parser.add_argument("--corpora", default="seed,medquad-dev,covidqa-dev,medquad-chatty")
    parser.add_argument("--refresh", action="store_true", help="recompute cached features")
    parser.add_argument("--size", type=int, help="hidden units (skip cross-validation)")
    parser.add_argument("--l2", type=float, help="L2 penalty (skip cross-validation)")
    parser.add_argument("--balance", type=float, help="corpus balance (skip cross-validation)")
    parser.add_argument("--dry-run", action="store_true", help="fit and report, do not write")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    material = collect(args.model, args.corpora.split(","), args.refresh)
    if args.model == "answer":
        train_answer(material, args)
    else:
        train_ranker(args.model, material, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
