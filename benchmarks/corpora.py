"""The dev corpora every quality figure and every fitted weight comes from, and their halves.

A benchmark corpus is a folder of documents and questions with gold spans, in the shared
format (``questions.jsonl``: question, source, start, end; see ../shared/benchmarks/*/README.md).
The seed corpus has no such file: its canned questions (tests/canned/*.yaml) are turned into
the same form, each expected phrase's places in the expected document being its gold spans.

Questions are split into a dev half (every weight and threshold is chosen on the dev halves of
all corpora together) and a held-out half (only reported). The split is by a hash of the gold
document, so a held-out question never asks about a document the fitting saw; a corpus with
too few documents for that (the seed corpus has two) is split by a hash of the question.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "benchmarks"
OUT = ROOT / "benchmarks" / "out"
GUIDES = ROOT / "benchmarks" / "guides"
MIN_DOCUMENTS_TO_SPLIT = 10  # fewer gold documents than this: split by question instead

Span = tuple[str, int, int]  # (source, start, end)


@dataclass(frozen=True)
class Question:
    """A benchmark question with every span that answers it."""

    id: str
    text: str
    golds: tuple[Span, ...]  # a passage or citation overlapping any of these is right
    same_text_golds: tuple[Span, ...]  # golds of every question worded exactly like this one
    half: str  # "dev" or "heldout"
    after: tuple[str, ...] = ()  # earlier turns of a conversation, asked first


@dataclass(frozen=True)
class Turn:
    """One turn of a benchmark conversation."""

    ask: str  # what the user types in the conversation
    full: str  # the same question written out in full ('' for a turn that starts a topic)
    resolved: str  # the turn's own words with what it refers to written in ('' as for full)
    switch: bool  # starts a new topic (must not be read in the previous one)
    golds: tuple[Span, ...]


@dataclass(frozen=True)
class Conversation:
    turns: tuple[Turn, ...]
    half: str


@dataclass(frozen=True)
class Corpus:
    """A folder of documents with its questions; ``refuse`` are its own must-abstain ones."""

    name: str
    folder: Path
    questions: tuple[Question, ...]
    refuse: tuple[Question, ...] = ()
    index_of: str = ""  # another corpus whose index this one shares (same folder)
    copy_of: str = ""  # another corpus whose documents these are, in another form
    index_folder: Path | None = None  # where its index is (default: under benchmarks/out/)
    conversations: tuple[Conversation, ...] = ()

    @property
    def index_dir(self) -> Path:
        return self.index_folder or OUT / f"index-{self.index_of or self.name}"


def _hash_half(key: str) -> str:
    return "dev" if hashlib.sha256(key.encode()).digest()[0] % 2 == 0 else "heldout"


def _normal(text: str) -> str:
    return " ".join(text.lower().split())


def _questions(rows: list[dict], by_document: bool) -> tuple[Question, ...]:
    """Questions of rows with ``question`` and ``golds``; identical wordings share golds."""
    by_text: dict[str, list[Span]] = defaultdict(list)
    for row in rows:
        by_text[_normal(row["question"])].extend(row["golds"])
    return tuple(
        Question(
            id=str(row.get("id", n)),
            text=row["question"],
            golds=tuple(row["golds"]),
            same_text_golds=tuple(by_text[_normal(row["question"])]),
            half=_hash_half(row["golds"][0][0] if by_document else row["question"]),
            after=tuple(row.get("after", ())),
        )
        for n, row in enumerate(rows)
    )


def _split_by_document(rows: list[dict]) -> bool:
    return len({row["golds"][0][0] for row in rows}) >= MIN_DOCUMENTS_TO_SPLIT


def load_jsonl(
    name: str,
    folder: Path,
    questions: Path,
    index_of: str = "",
    index_dir: Path | None = None,
) -> Corpus:
    """A corpus in the shared format: ``folder`` of documents, ``questions`` as JSON lines."""
    rows = []
    for line in questions.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            row["golds"] = [(row["source"], int(row["start"]), int(row["end"]))]
            rows.append(row)
    return Corpus(
        name,
        folder,
        _questions(rows, _split_by_document(rows)),
        index_of=index_of,
        index_folder=index_dir,
    )


def load_chatty(name: str, folder: Path, rewrites: Path, questions: Path, index_of: str) -> Corpus:
    """Hand-written rewrites of a corpus's questions (YAML: question, source, qtypes); the gold
    spans are those the corpus's own questions give for those documents and question types."""
    import yaml

    golds: dict[tuple[str, str], list[Span]] = defaultdict(list)
    for line in questions.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            golds[(row["source"], row["qtype"])].append(
                (row["source"], int(row["start"]), int(row["end"]))
            )
    rows = []
    for entry in yaml.safe_load(rewrites.read_text(encoding="utf-8")):
        sources = entry["source"] if isinstance(entry["source"], list) else [entry["source"]]
        spans = [g for s in sources for t in entry["qtypes"] for g in golds[(s, t)]]
        if not spans:
            raise ValueError(f"{rewrites}: no gold spans for {entry['question']!r}")
        rows.append({"question": entry["question"], "golds": spans})
    return Corpus(name, folder, _questions(rows, True), index_of=index_of)


def phrase_spans(text: str, source: str, phrases: Iterable[str]) -> list[Span]:
    """Every place (case-insensitive) where one of ``phrases`` stands in ``text``."""
    spans = []
    for phrase in phrases:
        for match in re.finditer(re.escape(phrase), text, re.IGNORECASE):
            spans.append((source, match.start(), match.end()))
    return spans


def load_canned(name: str, folder: Path, files: Iterable[Path]) -> Corpus:
    """A corpus whose questions are canned cases: phrase places in the expected document are
    the gold spans; cases that must abstain become the corpus's own refusal questions."""
    from qa.canned import load_cases
    from qa.documents import load_corpus

    texts = {doc.source: doc.text for doc in load_corpus(folder)}
    rows, refuse = [], []
    for path in sorted(files):
        for case in load_cases(path):
            if case.error:
                continue
            if case.abstain:
                refuse.append({"question": case.question, "golds": [("", 0, 0)]})
                continue
            phrases = [*case.expect, *case.expect_any]
            sources = [s for s in texts if not case.source or case.source.lower() in s.lower()]
            golds = [g for s in sources for g in phrase_spans(texts[s], s, phrases)]
            if golds:
                rows.append({"question": case.question, "golds": golds, "after": case.after})
    by_document = _split_by_document(rows)
    return Corpus(
        name,
        folder,
        _questions(rows, by_document),
        refuse=_questions(refuse, False),
    )


def load_conversations(
    path: Path, golds_of: Callable[[dict], list[Span]], by_document: bool
) -> tuple[Conversation, ...]:
    """Conversations of a YAML file (a list of turn lists), each turn's gold spans given by
    ``golds_of`` its entry; the half is that of the first turn's gold (document or question)."""
    import yaml

    if not path.is_file():
        return ()
    found = []
    for turns in yaml.safe_load(path.read_text(encoding="utf-8")):
        made = []
        for entry in turns:
            spans = golds_of(entry)
            if not spans:
                raise ValueError(f"{path}: no gold spans for {entry['ask']!r}")
            made.append(
                Turn(
                    entry["ask"],
                    entry.get("full", ""),
                    entry.get("resolved", ""),
                    bool(entry.get("switch")),
                    tuple(spans),
                )
            )
        key = made[0].golds[0][0] if by_document else made[0].ask
        found.append(Conversation(tuple(made), _hash_half(key)))
    return tuple(found)


def _by_ids(questions: Path) -> Callable[[dict], list[Span]]:
    """Gold spans of a conversation turn from the ids of a questions.jsonl's questions."""
    spans: dict[str, Span] = {}
    for line in questions.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            spans[str(row["id"])] = (row["source"], int(row["start"]), int(row["end"]))
    return lambda entry: [spans[str(i)] for i in entry["gold"]]


def _by_phrases(folder: Path) -> Callable[[dict], list[Span]]:
    """Gold spans of a conversation turn from its expected phrases in its source document."""
    from qa.documents import load_corpus

    texts = {doc.source: doc.text for doc in load_corpus(folder)}

    def golds(entry: dict) -> list[Span]:
        wanted = str(entry.get("source", "")).lower()
        return [
            span
            for source, text in texts.items()
            if wanted in source.lower()
            for span in phrase_spans(text, source, entry["expect"])
        ]

    return golds


def with_conversations(
    corpus: Corpus, path: Path, golds_of: Callable[[dict], list[Span]], by_document: bool = True
) -> Corpus:
    """``corpus`` with the benchmark conversations of ``path``, split into halves by their
    first gold's document (else by their first question)."""
    return replace(corpus, conversations=load_conversations(path, golds_of, by_document))


def without_headings(folder: Path, out: Path) -> Path:
    """The documents of ``folder`` written again into ``out`` as plain text with no section
    headings (the title, then the paragraphs): the same documents as a folder of notes without
    structure, to measure how the bot reads text that has none when the folder is small."""
    from qa.documents import load_corpus

    out.mkdir(parents=True, exist_ok=True)
    for doc in load_corpus(folder):
        paragraphs = [doc.text[a:b] for section in doc.sections for a, b in section.paragraphs]
        flat = "\n\n".join([doc.title, *paragraphs]) + "\n"
        target = out / Path(doc.source).with_suffix(".txt")
        if not target.is_file() or target.read_text(encoding="utf-8") != flat:
            target.write_text(flat, encoding="utf-8")
    return out


def foreign(corpus: Corpus, everything: Iterable[Corpus]) -> list[Corpus]:
    """The corpora whose questions ``corpus`` must refuse: other documents, each asked once
    (not a corpus sharing its index or copying another's documents, nor the one it copies)."""
    return [
        other
        for other in everything
        if other.folder != corpus.folder
        and not other.index_of
        and not other.copy_of
        and other.name != corpus.copy_of
    ]


def dev_corpora(names: Iterable[str] | None = None, available_only: bool = False) -> list[Corpus]:
    """The dev corpora by name (default all): seed, seed-plain (the seed documents without
    their headings), guides (the guides and policies a clinic, a library, a shop, a support
    team or an employer gives its readers, with their questions, written for this project),
    medquad-dev, covidqa-dev, medquad-chatty;
    with ``available_only``, those whose files are on this machine (../shared may be absent)."""
    talks = ROOT / "benchmarks" / "conversations"
    makers = {
        "seed": lambda: with_conversations(
            load_canned("seed", ROOT / "corpus", (ROOT / "tests" / "canned").glob("*.yaml")),
            talks / "seed.yaml",
            _by_phrases(ROOT / "corpus"),
            by_document=False,
        ),
        "seed-plain": lambda: with_conversations(
            replace(
                load_canned(
                    "seed-plain",
                    without_headings(ROOT / "corpus", OUT / "seed-plain"),
                    (ROOT / "tests" / "canned").glob("*.yaml"),
                ),
                copy_of="seed",
            ),
            talks / "seed.yaml",
            _by_phrases(OUT / "seed-plain"),
            by_document=False,
        ),
        "guides": lambda: load_canned("guides", GUIDES / "corpus", [GUIDES / "questions.yaml"]),
        "medquad-dev": lambda: with_conversations(
            load_jsonl(
                "medquad-dev",
                SHARED / "medquad-dev" / "corpus",
                SHARED / "medquad-dev" / "questions.jsonl",
            ),
            talks / "medquad-dev.yaml",
            _by_ids(SHARED / "medquad-dev" / "questions.jsonl"),
        ),
        "covidqa-dev": lambda: with_conversations(
            load_jsonl(
                "covidqa-dev",
                SHARED / "covidqa-dev" / "corpus",
                SHARED / "covidqa-dev" / "questions.jsonl",
            ),
            talks / "covidqa-dev.yaml",
            _by_ids(SHARED / "covidqa-dev" / "questions.jsonl"),
        ),
        "medquad-chatty": lambda: load_chatty(
            "medquad-chatty",
            SHARED / "medquad-dev" / "corpus",
            ROOT / "benchmarks" / "chatty" / "questions.yaml",
            SHARED / "medquad-dev" / "questions.jsonl",
            index_of="medquad-dev",
        ),
    }
    wanted = list(names) if names else list(makers)
    if available_only:
        wanted = [
            n
            for n in wanted
            if n.startswith("seed")
            or n == "guides"
            or (SHARED / n.replace("-chatty", "-dev")).is_dir()
        ]
    unknown = set(wanted) - set(makers)
    if unknown:
        raise ValueError(f"unknown corpora {sorted(unknown)}; choose from {sorted(makers)}")
    return [makers[name]() for name in wanted]


def overlaps(span: Span, golds: Iterable[Span]) -> bool:
    """Whether ``span`` comes from a gold file and overlaps its gold span."""
    source, start, end = span
    return any(source == s and start < e and end > b for s, b, e in golds)


def first_hit(ranked: list[Span], golds: Iterable[Span]) -> int:
    """1-based rank of the first passage overlapping a gold span (0: none in the list)."""
    golds = list(golds)
    return next((n for n, span in enumerate(ranked, 1) if overlaps(span, golds)), 0)
