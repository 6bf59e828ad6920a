"""Composing a short cited answer from the corpus's own sentences, or abstaining.

Nothing here writes a fact: every sentence of an answer is a sentence of a cited passage,
quoted exactly and followed by its citation marker. The only words of the bot's own are a
fact-free lead-in for yes/no questions and the message that the documents do not answer.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from qa.embedding import Embedder
from qa.lexicon import Lexicon
from qa.retrieval import Passage
from qa.text import FRAME_WORDS, content_words, shares_stem, stems, words

NOT_COVERED = (
    "I could not find an answer to that in the loaded documents, so I will not guess. "
    "Try rephrasing, or ask about a topic the documents cover."
)
MAX_SENTENCES = 3  # chosen sentences, not counting a sentence quoted for context
PASSAGES_READ = 8  # how many top passages the composer takes sentences from
SIMILAR_MARGIN = 0.12  # extra sentences must score within this of the best one
# Weight of a sentence's passage's retrieval score above the top passage's: the retriever's
# title and heading match says which passage is about the question better than one sentence.
PASSAGE_WEIGHT = 1.0
ADJACENT_BONUS = 0.1  # a sentence next to a chosen one reads on from it
DUPLICATE_SIMILARITY = 0.9  # sentences closer than this to a chosen one add nothing
# Share of the question's subject words the evidence must contain or mean: half, and two
# thirds for a yes/no question (which asks whether its words go together).
MIN_COVERAGE = 0.5
MIN_COVERAGE_YESNO = 2 / 3
# A subject word the corpus never uses counts when the evidence means it: embedding similarity
# of word and evidence ('exercise' ~ 'limit strenuous activities ...' is 0.32); far below that
# ('cost' ~ a sentence on Botox: -0.04) the question is about something the documents lack.
WORD_SUPPORT = 0.28
UNKNOWN_WORD_FLOOR = 0.2  # below this a word the corpus never uses means an uncovered topic

# A sentence that opens like this leans on the one before it ("This regeneration is slow",
# "In this method, ...").
_ANAPHOR = re.compile(
    r"^((it|its|they|their|here)\b|(\w+,?\s+){0,2}?(this|these|that|those|such)\b)", re.I
)
CONTEXT_DEPTH = 2  # how many sentences back a leaning sentence may reach for its subject
# A sentence that only names something ("... known as X.") is explained by the next one;
# a sentence that gives examples completes the one before it.
_NAMING = re.compile(r"\b(known as|called|termed|referred to as)\b[^.;:]*[.?!]?$", re.I)
_ANNOUNCES = re.compile(r"\b(several|various|many|a number of|following)\b[^.;]*[.:]$", re.I)
_EXAMPLES = re.compile(r"\b(for example|an example|such as|e\.g\.|include|including)\b", re.I)
ELABORATION_BONUS = 0.3
COVERAGE_GAIN = 0.2  # bonus per share of question words a further sentence adds
# Opposite time words: a sentence about 'before' does not answer a question about 'after'.
_OPPOSITE_TIMES = (("after", "before"), ("before", "after"))
TIME_MISMATCH = 0.15
TIME_MATCH = 0.08
_TIMES = ("after", "before", "during")

QUESTION_TYPES: list[tuple[str, re.Pattern[str]]] = [
    ("comparison", re.compile(r"\b(differ|difference|different from|compare|versus|vs\.?)\b")),
    ("statistic", re.compile(r"\b(prevalen|incidence|how (many|common)|percent|statistic)")),
    ("duration", re.compile(r"\bhow (long|fast|quickly|soon|often)\b|\b(rate|speed)\b")),
    ("reason", re.compile(r"^why\b|\bwhy (would|do|does|is|are|might)\b|\bpurpose\b")),
    ("timing", re.compile(r"^when\b|\bwhen (is|are|should|would|can|do|does|might)\b")),
    ("cause", re.compile(r"\b(cause[sd]?|causing|lead(s)? to|reason|risk factor|origin)")),
    ("symptom", re.compile(r"\b(symptom|sign|happens?|effects?|consequence|feel|expect)")),
    ("diagnosis", re.compile(r"\b(diagnos|test(s|ed)?\b|detect|identif)")),
    ("treatment", re.compile(r"\b(treat|therap|manag|cure|relie|used for|help)")),
    (
        "procedure",
        re.compile(r"\bhow (is|are|was|were) .*\b(performed|done|carried out)|procedure"),
    ),
    ("mechanism", re.compile(r"\bhow (does|do|can|did)\b|\bmechanism|\bwork")),
    (
        "list",
        re.compile(r"\b(which|what) (\w+ )?(types|kinds|chemicals|agents|diseases|conditions)"),
    ),
    ("location", re.compile(r"\bwhere\b|\bwhich (nerve|part|area|muscle)")),
    ("definition", re.compile(r"^(what|who) (is|are)\b|\bdefin|\bmeaning of|\bwhat does .* mean")),
]
# A question that opens with a verb asks whether something holds ("Does X cause Y?").
_YES_NO = re.compile(r"^(is|are|can|does|do|did|should|will|would|could|may|has|have)\b", re.I)

# Words whose presence suggests a sentence answers that type of question.
CUES: dict[str, re.Pattern[str]] = {
    "definition": re.compile(
        r"\b(is|are) (a|an|the)\b|\brefers? to\b|\bknown as\b|\bmeans?\b", re.I
    ),
    "cause": re.compile(
        r"\b(cause|result(s|ing)? (from|in)|stem|due to|lead(s|ing)? to|source|because|since"
        r"|so that|in order to|for its|prefer)",
        re.I,
    ),
    "symptom": re.compile(
        r"\b(symptom|sign|experienc|weak|pain|numb|ache|shrink|atroph|loss)", re.I
    ),
    "diagnosis": re.compile(
        r"\b(diagnos|electromyograph|EMG|test|stud(y|ies)|imaging|measur)", re.I
    ),
    "treatment": re.compile(r"\b(treat|therap|used to|manag|relie|reliev)", re.I),
    "procedure": re.compile(r"\b(needle|probe|inject|deliver|insert|dissect|electrode)", re.I),
    "mechanism": re.compile(r"\b(block|by|through|causing|heat|cold|destroy|interrupt)", re.I),
    "duration": re.compile(
        r"\b(\d+|one|two|three|several|minutes?|hours?|days?|weeks?|months?|years?|rate|slow"
        r"|fast|quick|immediate|temporar|permanent|last(s|ing)?|longer)\b",
        re.I,
    ),
    "statistic": re.compile(r"\d|\b(percent|per (million|thousand|100)|prevalen|incidence)", re.I),
    "location": re.compile(r"\b(nerve|area|site|hands|feet|spine|brain|joint|located)", re.I),
    "reason": re.compile(
        r"\b(because|since|so that|in order to|for (its|a|the)|to (treat|manage|relieve)|goal|aim"
        r"|prefer|used to|relief|outcome)",
        re.I,
    ),
    "timing": re.compile(
        r"\b(when|after|before|once|until|if|immediately|following|every|daily|weekly|monthly"
        r"|morning|afternoon|evening|night|dawn|dusk|noon|midnight|(mon|tues|wednes|thurs|fri"
        r"|satur|sun)day|\d)",
        re.I,
    ),
    "comparison": re.compile(r"\b(unlike|whereas|while|instead|rather|differ|compared)", re.I),
}
# Types whose answer must contain its cue: without one, the documents do not answer.
REQUIRED_CUES = frozenset({"duration", "statistic", "timing", "treatment"})
CUE_BONUS = 0.08
COVERAGE_WEIGHT = 0.4  # weight of the (rarity-weighted) share of question words a sentence has
# Question words naming the kind of answer wanted, not its subject.
TYPE_WORDS = frozenset(
    """cause causes caused causing reason reasons treat treated treatment treatments therapy
    symptom symptoms sign signs effect effects consequence consequences diagnose diagnosed
    diagnosis test tests procedure procedures performed differ difference different compare
    define definition prevalence last lasts""".split()
)
# The documents rarely say 'yes' or 'no' in so many words: the answer quotes what they say.
YES_NO_LEAD_IN = "Here is what the documents say:"


@dataclass(frozen=True)
class Citation:
    """Where one quoted part of an answer comes from: file, section and exact span."""

    n: int
    source: str
    title: str
    section: str
    start: int
    end: int
    quote: str  # == decoded text of ``source``[start:end]
    score: float
    page: int | None = None  # 1-based page of ``start`` for formats with pages (PDF), else None

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
    query: str = ""  # the question as searched (after follow-up and spelling resolution)
    question_type: str = ""

    def sources_text(self) -> str:
        """The numbered source list: '[1] Title - Section (file, p. 3, characters a-b)'."""
        return "\n".join(
            f"[{c.n}] {c.label()} ({c.source}, {'' if c.page is None else f'p. {c.page}, '}"
            f"characters {c.start}-{c.end})"
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
class Sentence:
    """A candidate sentence of a retrieved passage."""

    passage: Passage
    start: int
    end: int
    text: str


def question_type(question: str) -> str:
    """The kind of answer asked for (definition, cause, duration, ...), 'yesno' for a question
    that opens with a verb and asks nothing more specific, 'other' if unclear."""
    lowered = question.lower().strip()
    for name, pattern in QUESTION_TYPES:
        if pattern.search(lowered):
            return name
    return "yesno" if _YES_NO.match(lowered) else "other"


def subject_words(question: str) -> list[str]:
    """The question's words that name what it is about (evidence must mention them)."""
    return [w for w in content_words(question) if w not in FRAME_WORDS and w not in TYPE_WORDS]


def covered_terms(terms: list[str], text: str) -> list[bool]:
    """Which of ``terms`` occur in ``text``: same stem, or a close form (lost/loses)."""
    found = set(content_words(text))
    present = set(stems(sorted(found)))
    return [
        stem in present or any(shares_stem(term, word) for word in found)
        for term, stem in zip(terms, stems(terms), strict=True)
    ]


def coverage(terms: list[str], text: str) -> float:
    """Share of ``terms`` that occur in ``text`` (1.0 when there are no terms)."""
    return sum(covered_terms(terms, text)) / len(terms) if terms else 1.0


def _sentences(passages: list[Passage]) -> list[Sentence]:
    """Sentences of the top passages, each once, in (source, position) order."""
    found: dict[tuple[str, int], Sentence] = {}
    for passage in passages[:PASSAGES_READ]:
        for start, end in passage.sentences:
            key = (passage.source, start)
            if key not in found:
                text = passage.text[start - passage.start : end - passage.start]
                found[key] = Sentence(passage, start, end, text)
    return [found[key] for key in sorted(found)]


def _previous(sentences: list[Sentence]) -> list[int | None]:
    """For each sentence, the index of the sentence right before it in the same section."""
    before: list[int | None] = [None] * len(sentences)
    for i in range(1, len(sentences)):
        a, b = sentences[i - 1], sentences[i]
        same = a.passage.source == b.passage.source and a.passage.section == b.passage.section
        if same and 0 <= b.start - a.end <= 3:
            before[i] = i - 1
    return before


def _context_chains(sentences: list[Sentence], previous: list[int | None]) -> list[list[int]]:
    """For each sentence, the earlier sentences it leans on for its subject (may be none)."""
    chains: list[list[int]] = []
    for i, sentence in enumerate(sentences):
        chain: list[int] = []
        current, text = i, sentence.text
        while len(chain) < CONTEXT_DEPTH and _ANAPHOR.match(text):
            before = previous[current]
            if before is None:
                break
            chain.insert(0, before)
            current, text = before, sentences[before].text
        chains.append(chain)
    return chains


def _time_fit(question: str, text: str) -> float:
    """Bonus when a sentence is about the time asked (after/before), penalty for the opposite."""
    asked, said = set(words(question)), set(words(text))
    if any(a in asked and b in said and a not in said for a, b in _OPPOSITE_TIMES):
        return -TIME_MISMATCH
    return TIME_MATCH if any(t in asked and t in said for t in _TIMES) else 0.0


def _weights(terms: list[str], texts: list[str]) -> list[float]:
    """Rarer question words weigh more (inverse share of candidate sentences using them)."""
    present = [covered_terms(terms, text) for text in texts]
    n = len(texts)
    return [float(np.log(1 + n / (1 + sum(row[k] for row in present)))) for k in range(len(terms))]


def _weighted_coverage(terms: list[str], weights: list[float], text: str) -> float:
    total = sum(weights)
    if not total:
        return 0.0
    hits = covered_terms(terms, text)
    return sum(w for w, hit in zip(weights, hits, strict=True) if hit) / total


def compose(
    question: str,
    passages: list[Passage],
    embedder: Embedder,
    min_similarity: float,
    query: str | None = None,
    lexicon: Lexicon | None = None,
) -> Answer:
    """Build the answer to ``query`` (default: ``question``) from the retrieved ``passages``.

    With a ``lexicon``, corpus acronyms count as their long forms, and question words the
    corpus never uses must be supported by the meaning of the evidence, or the bot abstains.
    """
    query = query or question
    kind = question_type(query)
    sentences = _sentences(passages)
    if not sentences:
        return Answer(question, NOT_COVERED, [], True, query, kind)
    previous = _previous(sentences)
    chains = _context_chains(sentences, previous)
    expand = lexicon.expand if lexicon else (lambda text: text)
    in_context = [
        " ".join([*(sentences[j].text for j in chain), s.text])
        for s, chain in zip(sentences, chains, strict=True)
    ]

    texts = [s.text for s in sentences]
    leaning = [i for i, chain in enumerate(chains) if chain]
    vectors = embedder.encode([query, *texts, *(in_context[i] for i in leaning)])
    own = vectors[1 : 1 + len(texts)]
    similarity = own @ vectors[0]
    for row, i in enumerate(leaning):
        similarity[i] = max(similarity[i], float(vectors[1 + len(texts) + row] @ vectors[0]))

    terms = [w for w in content_words(query) if w not in FRAME_WORDS]
    matched = [
        expand(f"{c} {s.passage.section}") for c, s in zip(in_context, sentences, strict=True)
    ]
    weights = _weights(terms, matched)
    cue = CUES.get(kind)
    has_cue = [
        bool(cue and cue.search(f"{text} {s.passage.section}"))
        for text, s in zip(in_context, sentences, strict=True)
    ]
    subject = [
        w for w in subject_words(query) if len(w) >= 4 or lexicon is None or lexicon.knows(w)
    ]
    defines = [kind == "definition" and _defines(subject, s.text) for s in sentences]
    times = [_time_fit(query, text) for text in in_context]
    scores = np.array(
        [
            similarity[i]
            + COVERAGE_WEIGHT * _weighted_coverage(terms, weights, matched[i])
            + 0.05 * coverage(terms, s.passage.title)
            + (CUE_BONUS if has_cue[i] else 0.0)
            + (CUE_BONUS if defines[i] else 0.0)
            + times[i]
            + PASSAGE_WEIGHT * (s.passage.score - passages[0].score)
            for i, s in enumerate(sentences)
        ]
    )
    eligible = [i for i in range(len(sentences)) if has_cue[i] or kind not in REQUIRED_CUES]
    if not eligible:
        return Answer(question, NOT_COVERED, [], True, query, kind)
    best = max(eligible, key=lambda i: (scores[i], -i))
    passage = sentences[best].passage
    evidence = expand(f"{in_context[best]} {passage.section} {passage.title}")
    support = _subject_support(subject, evidence, embedder, lexicon)
    yes_no = bool(_YES_NO.match(query.strip()))
    needed = MIN_COVERAGE_YESNO if yes_no else MIN_COVERAGE
    # A sentence may lean on its title and heading for its subject ("The prognosis for MLD is
    # poor." under "Metachromatic Leukodystrophy - Outlook"): its passage is judged whole.
    relevance = max(float(similarity[best]), passage.similarity)
    if relevance < min_similarity or support is None or support < needed:
        return Answer(question, NOT_COVERED, [], True, query, kind)

    off_time = {i for i, fit in enumerate(times) if fit < 0}
    chosen = _choose(best, scores, own, chains, previous, sentences, terms, has_cue, off_time)
    return _assemble(question, query, kind, sentences, previous, chosen, scores, yes_no)


def _defines(subject: list[str], text: str) -> bool:
    """Whether ``text`` defines a subject word: 'X is a ...', 'known as X', '... (X)'."""
    lowered = text.lower()
    for word in map(re.escape, subject):
        if re.search(rf"^(\w+ ){{0,3}}{word}\w* (is|are) (a|an|the)\b|\({word}\)", lowered):
            return True
        if re.search(rf"^(\w+ ){{0,3}}{word}\w* (refers to|means)\b", lowered):
            return True
        if re.search(rf"\b(known as|called) (\w+ ){{0,2}}{word}", lowered):
            return True
    return False


def _subject_support(
    subject: list[str], evidence: str, embedder: Embedder, lexicon: Lexicon | None
) -> float | None:
    """Share of subject words the evidence contains; None when the question turns on a word
    the corpus never uses and the evidence does not mean it either (an uncovered topic).

    A word the corpus uses must appear in the evidence itself: when it does not, the evidence
    is about something else. A word the corpus never uses may be the reader's own word for
    what the evidence says ('exercise' for 'strenuous activities'), judged by meaning.
    """
    if not subject:
        return 1.0
    present = covered_terms(subject, evidence)
    unknown = [
        w
        for w, ok in zip(subject, present, strict=True)
        if not ok and lexicon is not None and not lexicon.knows(w)
    ]
    meant = 0
    if unknown:
        vectors = embedder.encode([*unknown, evidence])
        closeness = vectors[:-1] @ vectors[-1]
        if float(closeness.min()) < UNKNOWN_WORD_FLOOR:
            return None
        meant = int((closeness >= WORD_SUPPORT).sum())
    return (sum(present) + meant) / len(subject)


def _choose(
    best: int,
    scores: np.ndarray,
    vectors: np.ndarray,
    chains: list[list[int]],
    previous: list[int | None],
    sentences: list[Sentence],
    terms: list[str],
    has_cue: list[bool],
    off_time: set[int],
) -> set[int]:
    """The best sentence with what it leans on, then up to two more that add to it.

    A further sentence qualifies when it scores close to the best, with bonuses for reading
    on from a chosen sentence (explaining a name it introduced, giving its examples) and for
    covering question words the chosen ones do not.
    """
    chosen = {best}
    context = set(chains[best])
    following = {j: i for i, j in enumerate(previous) if j is not None}  # sentence -> next
    if _NAMING.search(sentences[best].text):  # the name is explained by what follows
        nxt = following.get(best)
        while nxt is not None and len(chosen) < MAX_SENTENCES:
            chosen.add(nxt)
            nxt = following.get(nxt)
    elif _ANNOUNCES.search(sentences[best].text) and best in following:
        chosen.add(following[best])  # 'stems from several origins.' -> the first of them

    def covered() -> str:
        return " ".join(sentences[j].text for j in sorted(chosen | context))

    for _ in range(MAX_SENTENCES - 1):
        group = chosen | context
        base = coverage(terms, covered())
        best_extra, best_value = None, scores[best] - SIMILAR_MARGIN
        for i in range(len(sentences)):
            if i in group or i in off_time or any(j not in group for j in chains[i]):
                continue  # off the time asked, or a 'This ...' sentence without its subject
            if _ANNOUNCES.search(sentences[i].text):
                continue  # 'stems from several origins.' says nothing without what follows
            if max(float(vectors[i] @ vectors[j]) for j in group) > DUPLICATE_SIMILARITY:
                continue
            value = scores[i] + COVERAGE_GAIN * max(
                0.0, coverage(terms, covered() + " " + sentences[i].text) - base
            )
            before = previous[i]
            if before in group:
                value += ADJACENT_BONUS
                if (
                    _NAMING.search(sentences[before].text)
                    or _EXAMPLES.search(sentences[i].text)
                    or (has_cue[i] and not has_cue[best])  # says what was asked: how, when
                ):
                    value += ELABORATION_BONUS
            elif following.get(i) in group:
                value += ADJACENT_BONUS
            if value >= best_value:
                best_extra, best_value = i, value
        if best_extra is None:
            break
        chosen.add(best_extra)
    return chosen | context


def _assemble(
    question: str,
    query: str,
    kind: str,
    sentences: list[Sentence],
    previous: list[int | None],
    chosen: set[int],
    scores: np.ndarray,
    yes_no: bool,
) -> Answer:
    """Join runs of neighbouring sentences of one paragraph into quotes; number sources by
    first use."""
    runs: list[tuple[list[int], Passage]] = []  # sentence indices and a passage holding them
    for i in sorted(chosen):
        sentence = sentences[i]
        joined = None
        if runs and previous[i] == runs[-1][0][-1]:
            start, last = sentences[runs[-1][0][0]].start, sentences[runs[-1][0][-1]]
            # Overlapping chunks: the run may have begun in the other passage.
            joined = next(
                (
                    p
                    for p in (runs[-1][1], sentence.passage)
                    if p.start <= start
                    and sentence.end <= p.end
                    and "\n" not in p.text[last.end - p.start : sentence.start - p.start]
                ),
                None,
            )
        if joined is not None:
            runs[-1] = ([*runs[-1][0], i], joined)
        else:
            runs.append(([i], sentence.passage))
    runs.sort(key=lambda run: (-max(scores[i] for i in run[0]), run[0][0]))

    citations: list[Citation] = []
    parts: list[str] = [YES_NO_LEAD_IN] if yes_no else []
    for run, passage in runs:
        first, last = sentences[run[0]], sentences[run[-1]]
        quote = passage.text[first.start - passage.start : last.end - passage.start]
        citation = Citation(
            n=len(citations) + 1,
            source=passage.source,
            title=passage.title,
            section=passage.section,
            start=first.start,
            end=last.end,
            quote=quote,
            score=round(float(max(scores[i] for i in run)), 4),
        )
        citations.append(citation)
        parts.append(f"{quote} [{citation.n}]")
    return Answer(question, " ".join(parts), citations, False, query, kind)
