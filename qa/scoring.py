"""Scoring the sentences of the retrieved passages: how likely each one is to be the answer.

Every sentence of the top passages is described by SENTENCE_FEATURES, all computed from what
the pipeline already has (the question's vector and aspect, the index's sentence vectors and
BM25 statistics, the passages' probabilities), and scored by the learned model
``qa/models/sentence.json``: a sentence's share of the softmax over the candidates is the
probability that it is the one that answers, given that the documents answer at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from qa import learned
from qa.chunking import leans_back
from qa.question import Question
from qa.retrieval import Passage, Retrieval, Retriever
from qa.text import content_words, shares_stem, stems, words

PASSAGES_READ = 8  # how many top passages the composer takes sentences from
LOG_SHARE_FLOOR = -10.0  # a passage's log-probability is read no lower than this
CONTEXT_DEPTH = 2  # how many sentences back a leaning sentence may reach for its subject

# A number standing as a word ('31', '2.2%', '1.82:1', '2019-nCoV'), not a digit inside a
# name ('HBoV1', 'H1N1', 'CD40', 'COVID-19'), which says no amount and no time.
_NUMBER = r"(?<![\w-])\d"

# Words whose presence suggests a sentence gives the kind of answer asked for. They are about
# how answers are put in any subject (time units, 'because', 'is a'), not about a subject.
CUES: dict[str, re.Pattern[str]] = {
    "definition": re.compile(
        r"\b(is|are) (a|an|the)\b|\brefers? to\b|\bknown as\b|\bmeans?\b|\bdefined as\b", re.I
    ),
    "cause": re.compile(
        r"\b(cause[sd]?|result(s|ing)? (from|in)|stem|due to|lead(s|ing)? to|source|because"
        r"|trigger|origin)",
        re.I,
    ),
    "symptom": re.compile(r"\b(symptom|sign|experienc|feel|notice|include)", re.I),
    "diagnosis": re.compile(r"\b(diagnos|test|exam|screen|detect|measur|confirm)", re.I),
    "treatment": re.compile(r"\b(treat|therap|manag|reliev|relief|cure|used to)", re.I),
    "procedure": re.compile(
        r"\b(perform|deliver|insert|inject|appl(y|ied)|step|using|used to|placed|attached|during)",
        re.I,
    ),
    "mechanism": re.compile(
        r"\b(by|through|via|because|causing|block(s|ed|ing)?|interrupt(s|ed|ing|ions?)?)\b", re.I
    ),
    "duration": re.compile(
        r"\b(minutes?|hours?|days?|weeks?|months?|years?|decades?|rate|slow(ly)?"
        r"|fast|quick(ly)?|immediate(ly)?|temporar(y|ily)|permanent(ly)?|last(s|ing)?|longer)\b",
        re.I,
    ),
    "statistic": re.compile(
        rf"{_NUMBER}|\b(percent|per (million|thousand|hundred)|prevalen|incidence)", re.I
    ),
    "location": re.compile(r"\b(located|sites?|areas?|regions?|near|inside|within|where)\b", re.I),
    "reason": re.compile(
        r"\b(because|since|so that|in order to|aim|goal|purpose|used to|prefer|benefit|advantage)",
        re.I,
    ),
    "timing": re.compile(
        r"\b(when|after|before|once|until|if|immediately|following|every\b|daily|weekly|monthly"
        r"|morning|afternoon|evening|night|dawn|dusk|noon|midnight"
        rf"|(mon|tues|wednes|thurs|fri|satur|sun)day)|{_NUMBER}",
        re.I,
    ),
    "comparison": re.compile(
        r"\b(unlike|whereas|while|instead|rather|differ|compared|than)\b", re.I
    ),
    "risk": re.compile(
        r"\b(risks?|side[- ]effects?|complications?|adverse|harm|danger|unsafe|safe|may "
        r"(experience|cause|develop|feel))",
        re.I,
    ),
    "cost": re.compile(
        r"[$€£]|\b(costs?|prices?|fees?|paid|pay(s|ing|ments?)?|insurance|covered|afford\w*"
        r"|charg\w*)\b|free of charge"
        r"|(?<![-\w])(?<!to )free\b(?! (the|a|an|it|them|up|of|from)\b)",  # not 'to free the'
        re.I,
    ),
    "contraindication": re.compile(
        r"\b(should not|must not|not (be )?recommended|avoid|unless|except|contraindicat"
        r"|not suitable|not appropriate|not (a )?candidates?)",
        re.I,
    ),
    "list": re.compile(r"\b(such as|includ(e|es|ed|ing)|types?|kinds?|examples?)\b|, and\b", re.I),
}
# Kinds whose answer must say what was asked (a number, a time, a risk): without a sentence
# that does, the documents do not answer and the bot says so.
REQUIRED_CUES = frozenset(
    {"duration", "statistic", "timing", "treatment", "risk", "cost", "contraindication"}
)
_OPPOSITE_TIMES = (("after", "before"), ("before", "after"))
_TIMES = ("after", "before", "during")

SENTENCE_FEATURES = (
    "similarity",
    "similarity_rank",
    "aspect",
    "passage",
    "passage_rank",
    "terms",
    "terms_context",
    "subject",
    "cue",
    "defines",
    "opens_passage",
    "time",
    "words",
    "leaning",
)


@dataclass(frozen=True)
class Sentence:
    """A candidate sentence of a retrieved passage."""

    passage: Passage
    passage_rank: int  # 1-based rank of the best passage holding it
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Evidence:
    """The candidate sentences of one question, their features and the model's scores."""

    sentences: list[Sentence]
    previous: list[int | None]  # the sentence right before each one in its paragraph, if any
    chains: list[list[int]]  # the earlier sentences each one leans on for its subject
    in_context: list[str]  # each sentence with what it leans on, as one text
    vectors: np.ndarray  # each sentence's embedding
    features: np.ndarray  # one row of SENTENCE_FEATURES per sentence
    logits: np.ndarray
    shares: np.ndarray  # softmax of the logits: P(this is the answering sentence)
    has_cue: list[bool]  # says the kind of thing asked (a time for 'how long', ...)

    @property
    def best(self) -> int:
        """The index of the most likely answering sentence (first by position on ties)."""
        return int(np.lexsort((np.arange(len(self.logits)), -self.logits))[0])


@lru_cache(maxsize=50_000)
def _forms(text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The content words of ``text`` and their stems (texts recur across questions)."""
    found = frozenset(content_words(text))
    return found, frozenset(stems(sorted(found)))


@lru_cache(maxsize=50_000)
def term_hits(terms: tuple[str, ...], text: str) -> int:
    """Which of ``terms`` occur in ``text``, as a bit mask (bit n: term n): same stem, or a
    close form (lost/loses). The hits of a joined text are the OR of its parts' hits."""
    found, present = _forms(text)
    return sum(
        1 << n
        for n, (term, stem) in enumerate(_stemmed(terms))
        if stem in present or shares_stem(term, found)
    )


@lru_cache(maxsize=1024)
def _stemmed(terms: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """Each term with its stem (a question's terms are matched against many texts)."""
    return tuple(zip(terms, stems(list(terms)), strict=True))


def coverages(
    terms: tuple[str, ...], sentences: list[Sentence], chains: list[list[int]]
) -> np.ndarray:
    """For each sentence, the share of ``terms`` that occur in it, in the sentences it leans
    on (``chains``), its section heading or its document title (1.0 when there are no terms)."""
    if not terms:
        return np.ones(len(sentences))
    own = [term_hits(terms, s.text) for s in sentences]
    places: dict[tuple[str, str], int] = {}
    shares = np.empty(len(sentences))
    for i, (sentence, chain) in enumerate(zip(sentences, chains, strict=True)):
        passage = sentence.passage
        key = (passage.section, passage.title)
        if key not in places:
            places[key] = term_hits(terms, passage.section) | term_hits(terms, passage.title)
        mask = own[i] | places[key]
        for j in chain:
            mask |= own[j]
        shares[i] = mask.bit_count()
    return shares / len(terms)


def _sentences(passages: list[Passage]) -> list[Sentence]:
    """Sentences of the top passages, each once, in (source, position) order."""
    found: dict[tuple[str, int], Sentence] = {}
    for rank, passage in enumerate(passages[:PASSAGES_READ], 1):
        for start, end in passage.sentences:
            key = (passage.source, start)
            if key not in found:
                text = passage.text[start - passage.start : end - passage.start]
                found[key] = Sentence(passage, rank, start, end, text)
    return [found[key] for key in sorted(found)]


def _vectors(sentences: list[Sentence], retrieval: Retrieval) -> np.ndarray:
    """The stored vectors of sentences of the retrieved passages (read with the passages)."""
    stored = {
        (rank, start): vector
        for rank, (passage, vectors) in enumerate(
            zip(retrieval.passages, retrieval.sentence_vectors, strict=True), 1
        )
        for (start, _), vector in zip(passage.sentences, vectors, strict=True)
    }
    out = np.zeros((len(sentences), retrieval.query_vector.shape[0]), dtype=np.float32)
    for row, sentence in enumerate(sentences):
        out[row] = stored[sentence.passage_rank, sentence.start]
    return out


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
        while len(chain) < CONTEXT_DEPTH and leans_back(text):
            before = previous[current]
            if before is None:
                break
            chain.insert(0, before)
            current, text = before, sentences[before].text
        chains.append(chain)
    return chains


def time_fit(question: str, text: str) -> float:
    """+1 when a sentence is about the time asked (after/before), -1 for the opposite."""
    asked = _times_asked(question)
    if not asked:
        return 0.0
    said = set(words(text))
    if any(a in asked and b in said and a not in said for a, b in _OPPOSITE_TIMES):
        return -1.0
    return 1.0 if any(t in asked and t in said for t in _TIMES) else 0.0


@lru_cache(maxsize=1024)
def _times_asked(question: str) -> frozenset[str]:
    return frozenset(words(question)).intersection(_TIMES)


@lru_cache(maxsize=50_000)
def says_cue(kind: str, text: str, section: str) -> bool:
    """Whether a sentence (read in its section) says the kind of thing asked (CUES); the
    same sentences come back for many questions."""
    cue = CUES.get(kind)
    return bool(cue and cue.search(f"{text} {section}"))


def defines(subject: tuple[str, ...], text: str) -> bool:
    """Whether ``text`` defines a subject word: 'X is a ...', 'known as X', '... (X)',
    'X (cutting a nerve)'. Every way names the word, so a text without it is not searched."""
    lowered = text.lower()
    return any(word in lowered and _definition_of(word).search(lowered) for word in subject)


@lru_cache(maxsize=1024)
def _definition_of(word: str) -> re.Pattern[str]:
    """The ways of defining ``word`` that ``defines`` looks for, as one pattern."""
    word = re.escape(word)
    return re.compile(
        "|".join(
            [
                rf"^(\w+ ){{0,3}}{word}\w* (is|are) (a|an|the)\b|\({word}\)",
                rf"^(\w+ ){{0,3}}{word}\w* (refers to|means)\b",
                rf"\b(known as|called) (\w+ ){{0,2}}{word}",
                rf"\b{word}\w* \((?!\w+\))[^)]{{3,}}\)",  # 'X (what X is)'
                rf"\b{word}\w*, or [^,.;]+,",  # 'hyperhidrosis, or excessive sweating, ...'
            ]
        )
    )


def _shares(tokens: list[frozenset[str]], weights: dict[str, float]) -> np.ndarray:
    total = sum(weights.values())
    if not total:
        return np.zeros(len(tokens))
    return np.array([sum(w for t, w in weights.items() if t in found) / total for found in tokens])


@dataclass(frozen=True)
class Told:
    """What a conversation has been told of its subject: the spans (source, start, end) its
    answers quoted. 'Tell me more' is answered with other sentences that name the subject."""

    subject: str
    spans: frozenset[tuple[str, int, int]]


def untold(evidence: Evidence, told: Told) -> Evidence | None:
    """``evidence`` without the sentences ``told`` quoted and those that (with what they lean
    on) do not name every word of its subject; None when no sentence is left. The rest keep
    their scores."""
    subject = set(stems(content_words(told.subject)))
    keep = [
        i
        for i, s in enumerate(evidence.sentences)
        if not any(
            src == s.passage.source and a < s.end and b > s.start for src, a, b in told.spans
        )
        and subject <= set(stems(content_words(evidence.in_context[i])))
    ]
    if not keep:
        return None
    if len(keep) == len(evidence.sentences):
        return evidence
    new = {old: n for n, old in enumerate(keep)}
    previous = [evidence.previous[i] for i in keep]
    logits = evidence.logits[keep]
    return Evidence(
        [evidence.sentences[i] for i in keep],
        [new.get(p) if p is not None else None for p in previous],
        [[new[j] for j in evidence.chains[i] if j in new] for i in keep],
        [evidence.in_context[i] for i in keep],
        evidence.vectors[keep],
        evidence.features[keep],
        logits,
        _softmax(logits),
        [evidence.has_cue[i] for i in keep],
    )


def score(question: Question, retrieval: Retrieval, retriever: Retriever) -> Evidence | None:
    """The candidate sentences of the top passages with their features and the model's
    scores; None when the passages hold no sentence."""
    evidence = describe(question, retrieval, retriever)
    if evidence is None:
        return None
    logits = learned.load("sentence", SENTENCE_FEATURES).logit(evidence.features)
    return replace(evidence, logits=logits, shares=_softmax(logits))


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Each sentence's probability of being the answering one, from the model's logits."""
    shares = np.exp(logits - logits.max())
    return np.asarray(shares / shares.sum())


def describe(question: Question, retrieval: Retrieval, retriever: Retriever) -> Evidence | None:
    """The candidate sentences of the top passages with their SENTENCE_FEATURES (not yet
    scored: logits and shares are zero); None when the passages hold no sentence."""
    sentences = _sentences(retrieval.passages)
    if not sentences:
        return None
    previous = _previous(sentences)
    chains = _context_chains(sentences, previous)
    in_context = [
        " ".join([*(sentences[j].text for j in chain), s.text])
        for s, chain in zip(sentences, chains, strict=True)
    ]
    own = _vectors(sentences, retrieval)
    similarity = own @ retrieval.query_vector
    lengths = np.array([len(s.text.split()) for s in sentences], dtype=np.float64)
    lengths32 = lengths.astype(np.float32)  # to weigh the vectors of joined sentences
    for i, chain in enumerate(chains):
        if chain:  # with what it leans on: MiniLM mean-pools tokens, so the vector of the
            # joined text is close to the word-weighted mean of its sentences' vectors
            parts = [*chain, i]
            joined = lengths32[parts] @ own[parts]
            joined /= np.linalg.norm(joined) or 1.0
            similarity[i] = max(similarity[i], float(joined @ retrieval.query_vector))

    weights = retrieval.term_weights
    sentence_tokens = [frozenset(t) for t in retriever.tokenize(in_context)]
    context_tokens = [
        frozenset(t)
        for t in retriever.tokenize(
            [
                f"{c} {s.passage.section} {s.passage.title}"
                for c, s in zip(in_context, sentences, strict=True)
            ]
        )
    ]
    has_cue = [
        says_cue(question.kind, text, s.passage.section)
        for text, s in zip(in_context, sentences, strict=True)
    ]
    order = np.argsort(-similarity, kind="stable")
    similarity_rank = np.empty(len(sentences))
    similarity_rank[order] = np.arange(1, len(sentences) + 1)
    features = np.zeros((len(sentences), len(SENTENCE_FEATURES)), dtype=np.float64)
    features[:, 0] = similarity
    features[:, 1] = 1.0 / similarity_rank
    features[:, 2] = own @ retrieval.aspect_vector
    scores = np.array([s.passage.score for s in sentences])
    features[:, 3] = np.maximum(np.log(np.maximum(scores, 1e-12)), LOG_SHARE_FLOOR)
    features[:, 4] = [1.0 / s.passage_rank for s in sentences]
    features[:, 5] = _shares(sentence_tokens, weights)
    features[:, 6] = _shares(context_tokens, weights)
    features[:, 7] = coverages(question.subject, sentences, chains)
    features[:, 8] = has_cue
    if question.kind == "definition":
        features[:, 9] = [defines(question.subject, s.text) for s in sentences]
    features[:, 10] = [s.start == s.passage.start for s in sentences]
    if _times_asked(question.query):
        features[:, 11] = [time_fit(question.query, text) for text in in_context]
    features[:, 12] = np.log1p(lengths)
    features[:, 13] = [bool(chain) for chain in chains]
    zeros = np.zeros(len(sentences))
    return Evidence(sentences, previous, chains, in_context, own, features, zeros, zeros, has_cue)
