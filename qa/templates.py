"""Turning scored sentences into an answer's text: which sentences, in which order, cited how.

The only words of the bot's own are fact-free: a lead-in for a yes/no question, labels naming
the things a comparison compares, and the message that the documents do not answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from qa.question import Question
from qa.retrieval import Passage
from qa.scoring import REQUIRED_CUES, Evidence, Sentence, term_hits

NOT_COVERED = (
    "I could not find an answer to that in the loaded documents, so I will not guess. "
    "Try rephrasing, or ask about a topic the documents cover."
)
NOTHING_MORE = "The documents say nothing more about this than what I have quoted."
HELLO = "Hello. Ask me a question about the loaded documents: I answer from them, with sources."
WELCOME = "You're welcome. Ask another question about the documents whenever you like."
# The documents rarely say 'yes' or 'no' in so many words: the answer quotes what they say.
YES_NO_LEAD_IN = "Here is what the documents say:"
MAX_SENTENCES = 3  # chosen sentences, not counting a sentence quoted for its context
LIST_ITEMS = 8  # items quoted after a lead that introduces a list ('... including:')
# Further sentences must score within this of the best sentence (logits: e^-1.5 ~ a fifth as
# likely), with bonuses for reading on from a chosen sentence. The best, not the lead: a lead
# chosen for saying a duration or a risk may score far below it.
EXTRA_MARGIN = 1.5
ADJACENT_BONUS = 0.4  # a sentence next to a chosen one reads on from it
# ... and explains a name it introduced, gives its examples, or says what was asked
ELABORATION_BONUS = 2.0
COVERAGE_GAIN = 0.8  # per share of question words a further sentence adds
DUPLICATE_SIMILARITY = 0.9  # sentences closer than this to a chosen one add nothing

# Labels run into the text they head ('Abstract: BACKGROUND: Human bocavirus 1 is ...',
# 'Results: We found ...') are not what it says: a quote starts after them, when a sentence
# of its own follows (a capital and five words or more; 'Dose: 5 mg' keeps its label).
_RUN_IN = re.compile(
    r"(?:[A-Z][A-Za-z/]*(?: (?:and|of|[A-Z][A-Za-z/]*)){0,2}: +)+(?=[A-Z]\S*(?: \S+){4})"
)
# A sentence that only names something ("... known as X.") is explained by the next one;
# a sentence that gives examples completes the one before it.
_NAMING = re.compile(r"\b(known as|called|termed|referred to as)\b[^.;:]*[.?!]?$", re.I)
# An announcement ends on what it announces: 'from several origins.', 'the following
# steps.', 'as follows:'; 'relief that can last for several months or longer.' says how long,
# and 'The recovery period following neurolysis varies ...' uses 'following' as 'after'.
_ANNOUNCES = re.compile(
    r"\b(several|various|many|a number of)( \w+){1,2}[.:]$|\bthe following( \w+)?[.:]$"
    r"|\bas follows[.:]$|:$",
    re.I,
)
# A list item: a bullet or a number, as Markdown and plain text mark one.
_ITEM = re.compile(r"\s*([-*+•‣◦]|\d{1,2}[.)])\s")
_EXAMPLES = re.compile(r"\b(for example|an example|such as|e\.g\.|include|including)\b", re.I)


@dataclass(frozen=True)
class Quote:
    """A run of neighbouring sentences of one paragraph, quoted as one span of a passage."""

    passage: Passage
    start: int
    end: int
    text: str
    score: float  # the best logit of its sentences


def choose(question: Question, evidence: Evidence, lead: int) -> set[int]:
    """The lead sentence with what it leans on, then up to two more that add to it.

    A further sentence qualifies when it scores close to the best sentence, with bonuses for reading
    on from a chosen sentence (explaining a name it introduced, giving its examples) and for
    covering question words the chosen ones do not. It is never about the opposite time to
    the one asked, a bare announcement ('... stems from several origins.'), or a near copy.
    A lead that introduces a list ('..., including:') is quoted with the list's items instead.
    """
    sentences, previous, chains = evidence.sentences, evidence.previous, evidence.chains
    scores = evidence.logits
    terms = question.terms
    chosen = {lead}
    context = set(chains[lead])
    following = {j: i for i, j in enumerate(previous) if j is not None}  # sentence -> next
    nxt = following.get(lead)
    if _NAMING.search(sentences[lead].text):  # the name is explained by what follows
        while nxt is not None and len(chosen) < MAX_SENTENCES:
            chosen.add(nxt)
            nxt = following.get(nxt)
    elif introduces_list(sentences[lead].text) and nxt is not None and _is_item(sentences[nxt]):
        while nxt is not None and _is_item(sentences[nxt]) and len(chosen) <= LIST_ITEMS:
            chosen.add(nxt)  # the list is the answer: its items, and nothing else
            nxt = following.get(nxt)
        return chosen | context
    elif _ANNOUNCES.search(sentences[lead].text) and nxt is not None:
        chosen.add(nxt)  # 'stems from several origins.' -> the first of them
    time = evidence.features[:, 11]
    needs_cue = question.kind in ("risk", "cost", "contraindication")
    barred: dict[int, bool] = {}  # judged once a sentence comes up, not on every pass

    def is_barred(i: int) -> bool:
        """Off the time asked, without the cue asked, or a bare announcement."""
        if i not in barred:
            barred[i] = bool(
                time[i] < 0
                or (needs_cue and not evidence.has_cue[i])
                or _ANNOUNCES.search(sentences[i].text)
            )
        return barred[i]

    def hits(indices: set[int]) -> int:
        mask = 0
        for j in indices:
            mask |= term_hits(terms, sentences[j].text)
        return mask

    for _ in range(MAX_SENTENCES - 1):
        group = chosen | context
        covered = hits(group)
        best_extra, best_value = None, float(scores.max()) - EXTRA_MARGIN
        closeness = (evidence.vectors @ evidence.vectors[sorted(group)].T).max(axis=1)
        for i in range(len(sentences)):
            if i in group or any(j not in group for j in chains[i]):
                continue  # chosen, or a 'This ...' sentence without its subject
            if closeness[i] > DUPLICATE_SIMILARITY or is_barred(i):
                continue
            new_terms = term_hits(terms, sentences[i].text) & ~covered
            added = new_terms.bit_count() / len(terms) if terms else 0
            value = scores[i] + COVERAGE_GAIN * added
            before = previous[i]
            if before in group:
                value += ADJACENT_BONUS
                if (
                    _NAMING.search(sentences[before].text)
                    or _EXAMPLES.search(sentences[i].text)
                    or (evidence.has_cue[i] and not evidence.has_cue[lead])
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


def _is_item(sentence: Sentence) -> bool:
    """Whether a sentence is an item of a list: it opens with a bullet or a number."""
    return _ITEM.match(sentence.text) is not None


def introduces_list(text: str) -> bool:
    """Whether a sentence ends by introducing what follows ('..., including:'): in Markdown
    and plain text its items are the lines after it, quoted with it as one span."""
    return text.rstrip().endswith(":")


def quotes(evidence: Evidence, chosen: set[int]) -> list[Quote]:
    """Runs of neighbouring chosen sentences of one paragraph, best first."""
    sentences, previous = evidence.sentences, evidence.previous
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
                    and (
                        "\n" not in p.text[last.end - p.start : sentence.start - p.start]
                        or introduces_list(sentences[runs[-1][0][0]].text)
                    )
                ),
                None,
            )
        if joined is not None:
            runs[-1] = ([*runs[-1][0], i], joined)
        else:
            runs.append(([i], sentence.passage))
    logits = evidence.logits
    runs.sort(key=lambda run: (-max(logits[i] for i in run[0]), run[0][0]))
    found = []
    for run, passage in runs:
        first, last = sentences[run[0]], sentences[run[-1]]
        text = passage.text[first.start - passage.start : last.end - passage.start]
        label = _RUN_IN.match(text)
        cut = label.end() if label else 0
        found.append(
            Quote(passage, first.start + cut, last.end, text[cut:], float(np.max(logits[run])))
        )
    return found


def lead_sentence(question: Question, evidence: Evidence) -> int | None:
    """The sentence the answer opens with: the most likely one, among those that say the kind
    of thing asked when the kind needs it (a time, a number, a risk); None if there is none."""
    eligible = [
        i
        for i in range(len(evidence.sentences))
        if evidence.has_cue[i] or question.kind not in REQUIRED_CUES
    ]
    if not eligible:
        return None
    return max(eligible, key=lambda i: (evidence.logits[i], -i))
