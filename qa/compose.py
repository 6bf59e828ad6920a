"""Composing a short cited answer from the corpus's own sentences, or abstaining.

Nothing here writes a fact: every sentence of an answer is a sentence of a cited passage,
quoted exactly, followed by its citation marker.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from qa.embedding import Embedder
from qa.retrieval import Passage

NOT_COVERED = (
    "I could not find an answer to that in the loaded documents, so I will not guess. "
    "Try rephrasing, or ask about a topic the documents cover."
)
MAX_SENTENCES = 3
PASSAGES_READ = 5  # how many top passages the composer takes sentences from
SIMILAR_MARGIN = 0.12  # extra sentences must score within this of the best one
DUPLICATE_SIMILARITY = 0.9  # sentences closer than this to a chosen one add nothing

_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)
STOPWORDS = frozenset(
    """a an the and or of to in on for with by from at as is are was were be been being it its
    this that these those there their they them he she his her we you your i me my our what
    which who whom whose when where why how do does did doing done can could should would may
    might will shall must not no yes if than then so such about into over under after before
    during between any some all each more most other own same too very just also there here
    tell explain describe please get got have has had s t""".split()
)

QUESTION_TYPES: list[tuple[str, re.Pattern[str]]] = [
    ("comparison", re.compile(r"\b(differ|difference|different from|compare|versus|vs\.?)\b")),
    ("duration", re.compile(r"\bhow (long|fast|quickly|soon|often)\b|\b(rate|speed)\b")),
    ("cause", re.compile(r"\b(cause[sd]?|causing|why|lead(s)? to|reason|risk factor|origin)")),
    ("symptom", re.compile(r"\b(symptom|sign|happens?|effects?|consequence|feel|expect)")),
    ("diagnosis", re.compile(r"\b(diagnos|test(s|ed)?\b|detect|identif)")),
    ("treatment", re.compile(r"\b(treat|therap|manag|cure|relie|used for|help)")),
    ("procedure", re.compile(r"\bhow (is|are|was|were) .* (performed|done|carried out)|procedure")),
    ("mechanism", re.compile(r"\bhow (does|do|can|did)\b|\bmechanism|\bwork")),
    (
        "list",
        re.compile(r"\b(which|what) (\w+ )?(types|kinds|chemicals|agents|diseases|conditions)"),
    ),
    ("location", re.compile(r"\bwhere\b|\bwhich (nerve|part|area|muscle)")),
    ("definition", re.compile(r"^(what|who) (is|are)\b|\bdefin|\bmeaning of|\bwhat does .* mean")),
    ("yesno", re.compile(r"^(is|are|can|does|do|should|will|could|may)\b")),
]

# Words whose presence in a sentence suggests it answers that type of question.
CUES: dict[str, re.Pattern[str]] = {
    "definition": re.compile(r"\b(is|are) (a|an|the)\b|\brefers? to\b|\bknown as\b|\bmeans?\b"),
    "cause": re.compile(r"\b(cause|result(s|ing)? from|stem|due to|lead(s|ing)? to|source|origin)"),
    "symptom": re.compile(r"\b(symptom|sign|experience|weak|pain|numb|ache|shrink|atroph|loss)"),
    "diagnosis": re.compile(r"\b(diagnos|electromyograph|EMG|test|stud(y|ies)|imaging|measur)"),
    "treatment": re.compile(r"\b(treat|therap|used to|manag|relie|reliev)"),
    "procedure": re.compile(r"\b(needle|probe|inject|deliver|insert|dissect|procedure)"),
    "mechanism": re.compile(r"\b(block|by|through|which|causing|heat|cold|destroy)"),
    "duration": re.compile(r"\b(\d+|one|two|several|month|week|day|year|hour|rate|slow|fast|last)"),
    "location": re.compile(r"\b(nerve|area|site|hands|feet|spine|brain|joint)"),
    "comparison": re.compile(r"\b(unlike|whereas|while|instead|rather|differ|compared)"),
}


@dataclass(frozen=True)
class Citation:
    """Where one quoted sentence of an answer comes from: file, section and exact span."""

    n: int
    source: str
    title: str
    section: str
    start: int
    end: int
    quote: str  # == decoded text of ``source``[start:end]
    score: float

    def label(self) -> str:
        """'Title - Section' as shown in a source list."""
        return f"{self.title} - {self.section}" if self.section else self.title

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """A short answer with numbered citations, or an abstention (then citations == [])."""

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    query: str = ""  # the question as searched (after follow-up resolution)
    question_type: str = ""

    def sources_text(self) -> str:
        """The numbered source list: '[1] Title - Section (file, characters a-b)'."""
        return "\n".join(
            f"[{c.n}] {c.label()} ({c.source}, characters {c.start}-{c.end})"
            for c in self.citations
        )

    def formatted(self) -> str:
        """Answer text followed by its source list, as the CLI prints it."""
        if not self.citations:
            return self.text
        return f"{self.text}\n\nSources:\n{self.sources_text()}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "citations": [c.to_dict() for c in self.citations]}


@dataclass(frozen=True)
class Candidate:
    passage: Passage
    start: int
    end: int
    text: str
    rank: int  # position of its passage in the retrieval order


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits, inner apostrophes and hyphens kept)."""
    return [w.lower() for w in _WORD.findall(text)]


def content_words(text: str) -> list[str]:
    """Words that carry meaning: no stop words, no one-letter tokens."""
    return [w for w in words(text) if w not in STOPWORDS and len(w) > 1]


def question_type(question: str) -> str:
    """The kind of answer asked for (definition, cause, duration, ...), 'other' if unclear."""
    lowered = question.lower().strip()
    for name, pattern in QUESTION_TYPES:
        if pattern.search(lowered):
            return name
    return "other"


def _candidates(passages: list[Passage]) -> list[Candidate]:
    seen: set[tuple[str, int]] = set()
    found: list[Candidate] = []
    for rank, passage in enumerate(passages[:PASSAGES_READ]):
        for start, end in passage.sentences:
            if (passage.source, start) in seen:
                continue
            seen.add((passage.source, start))
            text = passage.text[start - passage.start : end - passage.start]
            found.append(Candidate(passage, start, end, text, rank))
    return found


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


def stems(tokens: list[str]) -> list[str]:
    """Snowball stems, so 'causes', 'caused' and 'causing' match."""
    return list(_stemmer().stemWords(tokens))


def term_overlap(question_terms: list[str], text: str) -> float:
    """Share of the question's content words that occur (by stem) in ``text``."""
    if not question_terms:
        return 0.0
    present = set(stems(content_words(text)))
    return sum(s in present for s in stems(question_terms)) / len(question_terms)


def compose(
    question: str,
    passages: list[Passage],
    embedder: Embedder,
    min_similarity: float,
    query: str | None = None,
) -> Answer:
    """Build the answer to ``query`` (default: ``question``) from the retrieved ``passages``."""
    query = query or question
    kind = question_type(query)
    candidates = _candidates(passages)
    if not candidates:
        return Answer(question, NOT_COVERED, [], True, query, kind)

    vectors = embedder.encode([query] + [c.text for c in candidates])
    similarity = vectors[1:] @ vectors[0]
    terms = content_words(query)
    scores = np.array(
        [
            similarity[i]
            + 0.25 * term_overlap(terms, c.text)
            + 0.10 * term_overlap(terms, f"{c.passage.title} {c.passage.section}")
            + (0.05 if kind in CUES and CUES[kind].search(c.text) else 0.0)
            - 0.02 * c.rank
            for i, c in enumerate(candidates)
        ]
    )
    best = int(np.argmax(scores))
    coverage = term_overlap(terms, " ".join(p.title + " " + p.text for p in passages[:3]))
    if similarity[best] < min_similarity or (terms and coverage < 0.5):
        return Answer(question, NOT_COVERED, [], True, query, kind)

    chosen = [best]
    for i in np.argsort(-scores, kind="stable"):
        if len(chosen) >= MAX_SENTENCES or scores[i] < scores[best] - SIMILAR_MARGIN:
            break
        if int(i) in chosen or max(float(vectors[1 + i] @ vectors[1 + j]) for j in chosen) > (
            DUPLICATE_SIMILARITY
        ):
            continue
        chosen.append(int(i))
    return _assemble(question, query, kind, [candidates[i] for i in chosen], scores[chosen])


def _assemble(
    question: str, query: str, kind: str, picked: list[Candidate], scores: np.ndarray
) -> Answer:
    """Number the sources in order of first use and join the sentences with their markers."""
    citations: list[Citation] = []
    parts: list[str] = []
    for candidate, score in zip(picked, scores, strict=True):
        passage = candidate.passage
        citation = Citation(
            n=len(citations) + 1,
            source=passage.source,
            title=passage.title,
            section=passage.section,
            start=candidate.start,
            end=candidate.end,
            quote=candidate.text,
            score=round(float(score), 4),
        )
        citations.append(citation)
        parts.append(f"{candidate.text} [{citation.n}]")
    return Answer(question, " ".join(parts), citations, False, query, kind)
