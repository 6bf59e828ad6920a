"""Composing a short cited answer from the corpus's own sentences, or abstaining.

Three separate steps: scoring every candidate sentence (qa/scoring.py), deciding whether the
documents answer at all (qa/abstain.py), and the template of the question's kind
(qa/templates.py). Nothing here writes a fact: every sentence of an answer is a sentence of a
cited passage, quoted exactly and followed by its citation marker.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from qa import abstain, learned, scoring, templates
from qa.lexicon import Lexicon
from qa.question import Question, greets
from qa.retrieval import Retrieval, Retriever
from qa.templates import HELLO, NOT_COVERED, NOTHING_MORE, WELCOME, YES_NO_LEAD_IN

CONFIDENCE_FEATURES = ("lead_share", "lead_logit", "margin", "answerable", "passage")


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
    score: float  # the sentence model's score of the quote's best sentence (a logit)
    page: int | None = None  # 1-based page of ``start`` for formats with pages (PDF), else None

    def label(self) -> str:
        """'Title - Section' as shown in a source list."""
        return f"{self.title} - {self.section}" if self.section else self.title

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Answer:
    """A short answer with numbered citations, or an abstention (then citations == []).

    ``confidence`` means what it says: for an answer, the probability that its first citation
    holds the answer; for an abstention, the probability that the documents do not answer.
    """

    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    query: str = ""  # the question as searched (after follow-up and spelling resolution)
    question_type: str = ""
    confidence: float = 0.0
    compared: tuple[str, ...] = ()  # a comparison's things, as its answer labels them

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


def shown(quote: str) -> str:
    """A quote as the answer's text says it: its words as the file has them, with the line
    breaks and runs of spaces of hard-wrapped or justified text (man pages, plain-text notes)
    read as single spaces; the citation keeps the exact span."""
    return " ".join(quote.split())


NOT_DESCRIBED = "the documents do not describe it."  # a thing compared, in a comparison
NOTHING_MORE_OF_IT = "the documents say nothing more about it than what I have quoted."

COURTESY = "courtesy"  # the question_type of a reply to a greeting or a thank-you


def courtesy(text: str) -> Answer:
    """The reply to a message that is only a greeting or a thank-you: nothing is asked of the
    documents, so nothing is searched or cited (and the conversation's topic is kept)."""
    return Answer(text, HELLO if greets(text) else WELCOME, [], True, text, COURTESY, 1.0)


def not_covered(question: Question, confidence: float, told: bool = False) -> Answer:
    """The abstention: the documents do not answer (or, ``told`` of a subject, say nothing
    more of it than the conversation has quoted); nothing is cited."""
    text = NOTHING_MORE if told else NOT_COVERED
    return Answer(
        question.text, text, [], True, question.query, question.kind, round(confidence, 4)
    )


def compose(
    question: Question,
    retrieval: Retrieval,
    retriever: Retriever,
    lexicon: Lexicon,
    abstain_below: float | None = None,
    told: scoring.Told | None = None,
) -> Answer:
    """The answer to an analysed question from its retrieved passages, or an abstention when
    the probability that the documents answer is below ``abstain_below`` (default: the
    threshold fitted with the abstention model); with ``told`` ('tell me more'), only from
    sentences on its subject that the conversation has not quoted yet."""
    evidence = scoring.score(question, retrieval, retriever)
    if evidence is not None and told is not None:
        evidence = scoring.untold(evidence, told)
    lead = templates.lead_sentence(question, evidence) if evidence is not None else None
    if evidence is None or lead is None:
        return not_covered(question, 1.0, told is not None)
    row = abstain.features(question, retrieval, evidence, lead, lexicon, retriever)
    answerable = abstain.answerable(row)
    rules = abstain.rules()
    if abstain_below is not None:
        rules = replace(rules, threshold=abstain_below)
    if not rules.answers(row, answerable) or abstain.elsewhere(question, evidence, lead, retriever):
        return not_covered(question, 1.0 - answerable, told is not None)
    chosen = templates.choose(question, evidence, lead)
    quoted = templates.quotes(evidence, chosen)
    citations = [
        Citation(
            n,
            q.passage.source,
            q.passage.title,
            q.passage.section,
            q.start,
            q.end,
            q.text,
            round(q.score, 4),
        )
        for n, q in enumerate(quoted, 1)
    ]
    parts = [YES_NO_LEAD_IN] if question.yes_no else []
    parts += [f"{shown(c.quote)} [{c.n}]" for c in citations]
    return Answer(
        question.text,
        " ".join(parts),
        citations,
        False,
        question.query,
        question.kind,
        round(confidence(confidence_features(evidence, lead, answerable)), 4),
    )


def confidence_features(evidence: scoring.Evidence, lead: int, answerable: float) -> np.ndarray:
    """CONFIDENCE_FEATURES of an answer whose lead sentence is ``lead``."""
    others = np.delete(evidence.logits, lead)
    margin = evidence.logits[lead] - (others.max() if len(others) else evidence.logits[lead])
    return np.array(
        [
            evidence.shares[lead],
            evidence.logits[lead],
            margin,
            answerable,
            evidence.sentences[lead].passage.score,
        ]
    )


def confidence(row: np.ndarray) -> float:
    """P(the first citation holds the answer), by the calibrated model of its features."""
    return float(learned.load("confidence", CONFIDENCE_FEATURES).probability(row[None, :])[0])


def _overlapping(citation: Citation, cited: list[Citation]) -> list[Citation]:
    """The citations of ``cited`` that quote text of ``citation`` (a span is quoted once)."""
    return [
        c
        for c in cited
        if c.source == citation.source and c.start < citation.end and citation.start < c.end
    ]


def comparison(question: Question, parts: list[tuple[str, Answer]]) -> Answer:
    """What the documents say of each thing compared, each cited; labels are the question's
    own words for the things. A thing the documents do not cover is said to be so, and one
    the conversation has quoted all of, that nothing more is said of it. A yes/no question
    opens as any yes/no answer does."""
    if all(answer.abstained for _, answer in parts):
        told = all(answer.text == NOTHING_MORE for _, answer in parts)
        return not_covered(question, min(answer.confidence for _, answer in parts), told)
    texts: list[str] = [YES_NO_LEAD_IN] if question.yes_no else []
    citations: list[Citation] = []
    for thing, answer in parts:
        own = [c for c in answer.citations[:2] if not _overlapping(c, citations)]
        label = f"{thing[:1].upper()}{thing[1:]}"
        if answer.abstained:  # not covered, or (asked for more) all of it already quoted
            told = answer.text == NOTHING_MORE
            texts.append(f"{label}: {NOTHING_MORE_OF_IT if told else NOT_DESCRIBED}")
            continue
        if not own:  # what the documents say of it was quoted for the other thing
            earlier = _overlapping(answer.citations[0], citations)
            texts.append(f"{label}: see [{earlier[0].n}].")
            continue
        quoted = []
        for c in own:
            citations.append(replace(c, n=len(citations) + 1))
            quoted.append(f"{shown(c.quote)} [{len(citations)}]")
        texts.append(f"{label}: {' '.join(quoted)}")
    answered = [answer.confidence for _, answer in parts if not answer.abstained]
    return Answer(
        question.text,
        " ".join(texts),
        citations,
        False,
        question.query,
        question.kind,
        round(min(answered), 4),
        tuple(thing for thing, _ in parts),
    )
