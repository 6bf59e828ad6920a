"""Reading a question in its conversation: what it is about when it does not say.

A conversation keeps its topic: the subject the user asked about last ("chemical neurolysis")
and the passages its latest answer cited. A new question is read in that topic unless it
names a subject of its own that the topic's passages do not speak of:

- "What about cryoneurolysis?" names a new subject and asks the previous question of it;
- "Is it permanent?" leans on a pronoun: the subject takes the pronoun's place (whatever
  else the question names is what it asks of the subject);
- "Which agents are used?" or "how long does the effect last" name nothing new (their words
  are the topic's own, or only say what kind of answer is wanted): the subject is added;
- "Tell me more", "what else?" or "go on" ask the topic's question again, and are answered
  with what the topic's answers have not quoted yet;
- "How do they differ?" or "Compare them" compares the last two subjects asked about
  (or a comparison's two things again);
- after a comparison ("What is the difference between denervation and neurolysis?"), a
  question that points back is asked of each thing compared and answered as a comparison
  ("Is it permanent?": "Is denervation permanent?" and "Is neurolysis permanent?");
- anything else starts a new topic.

A question read in its topic is searched first in the document the topic's answers were
taken from ("prefer passages of the document the previous answer cited"), both as completed
with the subject and as asked (the document already says what it is about; the subject
phrase guessed from a question may be off), and the answer more likely right (its
``confidence``) is given; if that document does not answer it, every document is searched.
A question that names something new but that no document answers is tried once more in the
topic's document: an ambiguous follow-up ("How often do outbreaks peak?" after a question
about pertussis) is answered for the most recent subject. Each second chance is a
``Reading.fallback``, tried only when the readings before it abstain.

How a question was read is the Answer's ``query`` (shown as "Read as").
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

from qa.question import KIND_WORDS, compared_of, is_term, kind_of
from qa.text import FRAME_WORDS, STOPWORDS, content_words, stems, words

_PRONOUN = re.compile(
    r"\b(it|its|this|that|they|them|their|these|those|he|him|his|she|her)\b", re.I
)
_PLURAL_PRONOUNS = {"they", "them", "their", "these", "those"}
# What a comparison says of two things it does not name ('How do they differ?').
_BOTH = re.compile(r"\b(they|them|these|those|both|the two|each other|one another)\b", re.I)
_POSSESSIVE = {"its", "their", "his"}  # and 'her' before a noun ('her successor')
# 'What about X?', 'How about X?', 'And X?', 'And what about X?': the previous question, of X.
_WHAT_ABOUT = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(?P<thing>.+?)\s*[?.!]*\s*$", re.I)
_AND_THING = re.compile(
    r"^\s*and\s+(?P<thing>(?!what|how|when|why|where|who|which)[^?]+?)\s*\?\s*$", re.I
)
# What may open the thing of 'And for RFA?' or 'What about the phenol?' without being it.
_LEAD_IN = re.compile(r"^((for|about|with|regarding|in|on|of)\s+)?((the|a|an)\s+)?", re.I)
_CONNECTORS = frozenset({"of", "and", "for", "in", "with", "on", "to"})
# Questions whose last word is a verb ('How is X transmitted?', 'What does X cause?').
_ASKS_WITH_VERB = re.compile(
    r"^\s*((how|why|when|where)\s+(is|are|was|were|does|do|did|can|could|should|will|would)"
    r"|(what|which|who)\s+(does|do|did|can|could|should|will|would))\b"
    r"(?!\s+(i|you|we|they|one|he|she)\b)",  # 'How do I get X?': the verb comes before X
    re.I,
)
# Yes/no questions of a state ('Is X painful?', 'Are X contagious?'): the last word is
# what is asked of X ('Are there X?' and 'Is it X?' name X last).
_ASKS_OF_STATE = re.compile(
    r"^\s*(is|are|was|were)\b(?!\s+(there|it|this|that|they|these|those)\b)", re.I
)
EVIDENCE_CHARS = 4000  # how much of the earlier cited text a topic keeps
# 'Tell me more', 'more details please', 'go on', 'what else?': the topic's question again,
# answered with what its answers have not quoted yet.
_MORE = re.compile(
    r"^\W*(?:(?:and|ok(?:ay)?|please|so)\W+)*(?:(?:can|could) you\s+)?"
    r"(?:(?:tell|show|give) me\s+|say\s+|i(?:'d| would) like\s+)?"
    r"(?:(?:some|any|a (?:bit|little))\s+)?"
    r"(?:more(?:\s+(?:details?|information|info|about (?:it|that|this|them)))?"
    r"|go on|continue|what else|anything else|elaborate|explain (?:more|further))"
    r"(?:\W+please)?\W*$",
    re.I,
)
Span = tuple[str, int, int]  # (source, start, end) of a cited quote


@dataclass(frozen=True)
class Topic:
    """What a conversation is about: the subject phrase, the question that set it (as read),
    the text of the passages its latest answer cited, the documents its answers were taken
    from (the document of each one's first citation) and every span its answers quoted."""

    subject: str
    query: str
    evidence: str
    sources: frozenset[str] = frozenset()
    said: frozenset[Span] = frozenset()
    compared: tuple[str, ...] = ()  # the things its comparison answered for, if it was one
    previous: str = ""  # the subject of the topic before it, if any


def next_topic(
    topic: Topic | None,
    reading: Reading,
    cited: str,
    sources: frozenset[str],
    said: frozenset[Span] = frozenset(),
    compared: tuple[str, ...] = (),
) -> Topic | None:
    """The topic after answering ``reading`` with the quotes ``said`` from passages ``cited``
    (their text) of the documents ``sources`` (and, for a comparison, of the things
    ``compared``): a follow-up keeps the subject and adds what was cited; a new subject that
    the documents answer starts a topic of its own. One they do not answer leaves the
    conversation on its topic, but at the start of a conversation it is still what the user
    asks about ('Is it hereditary?' after a refused 'My dad has gout, what should he eat?'
    asks about gout), a topic with no documents to search first."""
    if reading.follow_up and topic is not None:
        evidence = f"{topic.evidence[-EVIDENCE_CHARS:]} {cited}"
        return Topic(
            topic.subject,
            reading.query,
            evidence,
            topic.sources | sources,
            topic.said | said,
            compared or topic.compared,
            topic.previous,
        )
    if not reading.subject or (topic is not None and not sources):
        return topic
    subject = grounded(reading.subject, cited)
    previous = topic.subject if topic is not None else ""
    return Topic(subject, reading.query, cited, sources, said, compared, previous)


def grounded(subject: str, cited: str) -> str:
    """The longest opening of ``subject`` (two words or more) that the cited text says as it
    is: the question's run of words may go on past its subject ('Margaret Chan step down',
    'vesicular stomatitis virus spread across synapses') where the documents name the subject
    alone. When the cited text says no such opening, the name the subject opens with
    ('Margaret Chan' of 'Margaret Chan step down', where the text says only 'Chan'), else
    ``subject`` itself."""
    tokens = [t[0] for t in _tokens(subject)]
    for size in range(len(tokens), 1, -1):
        part = tokens[:size]
        if part[-1].lower() not in _CONNECTORS and _says(cited, part):
            return " ".join(part)
    name = list(itertools.takewhile(lambda t: t[:1].isupper(), tokens))
    return " ".join(name) if 0 < len(name) < len(tokens) else subject


def _says(text: str, tokens: list[str]) -> bool:
    """Whether ``text`` says the words ``tokens`` one after the other (any case)."""
    return (
        re.search(r"\b" + r"[\s-]+".join(re.escape(t) for t in tokens) + r"\b", text, re.I)
        is not None
    )


@dataclass(frozen=True)
class Reading:
    """How one question is read in its conversation."""

    query: str  # the question to answer
    subject: str  # the subject it is about ('' when it names none and there is no topic)
    follow_up: bool  # read in the previous topic (True) or as a topic of its own
    within: frozenset[str] = frozenset()  # search only these documents (empty: all of them)
    fallback: Reading | None = None  # the reading to try when this one finds no answer
    rival: Reading | None = None  # tried beside this one: the more confident answer is given
    more: bool = False  # 'tell me more': answered without what the topic's answers quoted
    # after a comparison: (thing, the question asked of it) for each thing compared,
    # answered as a comparison ('query' says them all)
    each: tuple[tuple[str, str], ...] = ()


def readings(first: Reading) -> list[Reading]:
    """``first`` and the fallbacks after it, in the order they are tried."""
    found = [first]
    while (after := found[-1].fallback) is not None:
        found.append(after)
    return found


def _in_topic(question: str, query: str, topic: Topic, fallback: bool = True) -> Reading:
    """``question``, read as ``query`` in ``topic``: searched in the topic's documents (also
    as asked), then, with ``fallback``, in all of them."""
    anywhere = Reading(query, topic.subject, True)
    if not topic.sources:
        return anywhere
    as_asked = Reading(question, topic.subject, True, topic.sources) if query != question else None
    return Reading(
        query, topic.subject, True, topic.sources, anywhere if fallback else None, as_asked
    )


def subject_words(text: str, described: bool = False) -> list[str]:
    """The words of a question that name what it is about (not its kind, not framing, not
    the words of a definite description that points back: 'the outlook', 'the size of';
    ``described``: also those, when there is nothing to point back to)."""
    pointing = set() if described else {w.lower() for w in _pointing_back(text)}
    return [
        w
        for w in content_words(text)
        if w not in FRAME_WORDS and w not in KIND_WORDS and w not in pointing
    ]


def _tokens(text: str) -> list[re.Match[str]]:
    return list(re.finditer(r"[^\W_]+(?:['’-][^\W_]+)*", text))


def _pointing_back(text: str) -> list[str]:
    """Words of definite descriptions that refer to the topic rather than name a subject:
    'the outlook', 'the animal reservoir', and the head of 'the size of a flavivirus'. A
    description with a name in it ('the SARS coronavirus') names a subject, and so does the
    owner in one ('library' in 'the library's opening hours')."""
    tokens = _tokens(text)
    found: list[str] = []
    for i, token in enumerate(tokens):
        if token[0].lower() != "the":
            continue
        phrase: list[str] = []
        for later in tokens[i + 1 :]:
            if later[0].lower() in STOPWORDS:
                break
            if later[0].lower().endswith(("'s", "’s")):
                phrase = []  # 'the library's opening hours': the owner is named, not pointed at
                continue
            phrase.append(later[0])
        if not phrase:
            continue
        after = _next_word(tokens, i + len(phrase))
        named = any(w[:1].isupper() or w[:1].isdigit() for w in phrase)
        if after == "of" or not named:
            found += phrase
    return found


def _next_word(tokens: list[re.Match[str]], i: int) -> str:
    return tokens[i + 1][0].lower() if i + 1 < len(tokens) else ""


def _one_letter_name(word: str) -> bool:
    """'Q', 'C': a capital letter standing alone that is not a word ('I', 'A')."""
    return len(word) == 1 and word.isupper() and word.lower() not in STOPWORDS


def _numbered(word: str) -> bool:
    """'1', '12': the short number that tells members of a family apart, not a year."""
    return word.isdigit() and len(word) <= 2


def _named(text: str, tokens: list[re.Match[str]], i: int) -> bool:
    """Token ``i`` of ``text`` is written as a name: capitalised, and not the first word of
    a sentence ('Ebola' in 'When did the WHO declare the West African Ebola epidemic ...')."""
    if i == 0 or not tokens[i][0][:1].isupper():
        return False
    return not re.search(r"[.!?:]", text[tokens[i - 1].end() : tokens[i].start()])


def subject_phrase(text: str, described: bool = False) -> str:
    """The longest run of subject words in ``text``, as written, joined across 'of', 'and',
    'for', ... ('What is (are) Anemia of Inflammation and Chronic Disease ?' -> 'Anemia of
    Inflammation and Chronic Disease'), of those with a name in them if any ('West African
    Ebola epidemic', not 'public health emergency of international'), a short number after
    a word kept in it ('human bocavirus 1'); the last of equally long runs; without the verb
    that ends a 'How is X transmitted?' or the state that ends an 'Is X painful?'
    (``described``: of subject words that include a definite description's, as in
    ``subject_words``)."""
    wanted = set(subject_words(text, described))
    tokens = _tokens(text)
    runs: list[list[int]] = []
    run: list[int] = []
    for i, token in enumerate(tokens):
        word = token[0].lower()
        if word in wanted:
            run.append(i)
        elif run and word in _CONNECTORS and _next_word(tokens, i) in wanted:
            run.append(i)
        elif _one_letter_name(token[0]) and _next_word(tokens, i) in wanted:
            run.append(i)  # 'Q fever', 'C difficile': a one-letter name opens the phrase
        elif run and _numbered(token[0]):
            run.append(i)  # 'human bocavirus 1', 'HIV 2': a number after a name is in it
        elif run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    if not runs:
        return ""
    last = runs[-1]
    asks_of_last = _ASKS_WITH_VERB.match(text) or _ASKS_OF_STATE.match(text)
    if len(last) > 1 and last[-1] == len(tokens) - 1 and asks_of_last:
        runs[-1] = last[:-1]  # 'How is X transmitted?', 'Is X painful?': what is asked of X
    best = max(runs, key=lambda r: (any(_named(text, tokens, i) for i in r), len(r), r[0]))
    return text[tokens[best[0]].start() : tokens[best[-1]].end()]


def read(question: str, topic: Topic | None) -> Reading:
    """How to read ``question`` after ``topic`` (None at the start of a conversation)."""
    own = subject_phrase(question)
    if topic is None:  # 'How long is the warranty?': 'the warranty' points to nothing yet
        return Reading(question, own or subject_phrase(question, described=True), False)
    if (both := _compares_last_two(question, topic)) is not None:
        return both
    if topic.compared and (each := _of_each(question, topic)) is not None:
        return each
    if _MORE.match(question):
        anywhere = Reading(topic.query, topic.subject, True, more=True)
        if not topic.sources:
            return anywhere
        return Reading(topic.query, topic.subject, True, topic.sources, anywhere, more=True)
    about = _WHAT_ABOUT.match(question) or _AND_THING.match(question)
    if about:
        thing = _LEAD_IN.sub("", about["thing"].strip())
        if subject_words(thing):
            parallel, in_subject = _parallel(topic, thing)
            if parallel and not in_subject:  # 'And the second and third waves?'
                return _in_topic(question, parallel, topic)
            asked = parallel or _replace(topic.query, topic.subject, thing)
            if topic.sources and not parallel and not subject_words(about["thing"]):
                # 'And the recovery?': a description pointing back is the topic's, first
                added = _with_subject(question, topic)
                anew = Reading(asked, thing, False)
                return Reading(added, topic.subject, True, topic.sources, fallback=anew)
            nearby = Reading(asked, thing, False, topic.sources) if topic.sources else None
            # the same document may tell; if neither does, what the documents say of the thing
            alone = Reading(f"What is {thing}?", thing, False)
            what_it_is = alone if alone.query != asked else None
            return Reading(asked, thing, False, fallback=what_it_is, rival=nearby)
    if _PRONOUN.search(question):
        return _in_topic(question, _substitute(question, _antecedent(question, topic)), topic)
    added = _with_subject(question, topic)
    if not _new_words(question, topic) and not is_term(question) and not _defines(question):
        return _in_topic(question, added, topic)  # a bare term names a subject of its own
    return Reading(question, own, False, fallback=_in_topic(question, added, topic, False))


def _compares_last_two(question: str, topic: Topic) -> Reading | None:
    """'How do they differ?', 'Compare them', 'What is the difference between the two?':
    a comparison that names no things of its own compares the topic's things compared, or
    the subject asked about before the topic's with the topic's ('What is denervation?',
    'What is neurolysis?', 'How do they differ?'), unless the topic's subject is plural
    ('What are nuclear receptors?': 'they' are the receptors). None for any other question."""
    if kind_of(question) != "comparison" or compared_of(question) or not _BOTH.search(question):
        return None
    things = topic.compared
    if not things and topic.previous and topic.previous.lower() != topic.subject.lower():
        singular = not any(_plural(t[0]) for t in _tokens(topic.subject))
        things = (topic.previous, topic.subject) if singular else ()
    if len(things) != 2:
        return None
    first, second = things
    return Reading(
        f"What is the difference between {first} and {second}?", f"{first} and {second}", False
    )


def _of_each(question: str, topic: Topic) -> Reading | None:
    """After a comparison, a question that points back asks it of each thing compared: 'Is it
    permanent?' after 'What is the difference between denervation and neurolysis?' is 'Is
    denervation permanent?' and 'Is neurolysis permanent?' (not 'Is denervation and
    neurolysis permanent?'), 'Tell me more' asks what each is again, and 'What about
    cryoneurolysis?' asks what that is. None for a question that names a subject of its own."""
    about = _WHAT_ABOUT.match(question) or _AND_THING.match(question)
    if about and subject_words(thing := _LEAD_IN.sub("", about["thing"].strip())):
        return Reading(f"What is {thing}?", thing, False)
    more = bool(_MORE.match(question))
    if more:
        asked = [(thing, f"What is {thing}?") for thing in topic.compared]
    elif _PRONOUN.search(question):
        asked = [(thing, _substitute(question, thing)) for thing in topic.compared]
    elif not _new_words(question, topic) and not is_term(question) and not _defines(question):
        asked = [(thing, f"{question} ({thing})") for thing in topic.compared]
    else:
        return None
    query = " ".join(q for _, q in asked)
    return Reading(query, topic.subject, True, more=more, each=tuple(asked))


def _defines(question: str) -> bool:
    """'What is RANBP2?' after an answer that named it: asking what a thing named is starts
    a topic on it (not 'What is the animal reservoir?', which points back)."""
    return kind_of(question) == "definition" and bool(subject_words(question))


def _with_subject(question: str, topic: Topic) -> str:
    """``question`` with the topic's subject added, unless it already names it."""
    if subject_words(question) and _mentions(question, topic.subject):
        return question
    return f"{question} ({topic.subject})"


def _new_words(text: str, topic: Topic) -> list[str]:
    """Subject words of ``text`` that the topic's passages and question do not use."""
    known = set(words(f"{topic.evidence} {topic.query} {topic.subject}"))
    known_stems = set(stems(sorted(known)))
    found = subject_words(text)
    return [
        w
        for w, s in zip(found, stems(found), strict=True)
        if w not in known and s not in known_stems
    ]


def _mentions(text: str, subject: str) -> bool:
    return all(w in words(text) for w in words(subject))


def _plural(word: str) -> bool:
    """'tests', 'antivirals': an English plural by its ending (not 'class', 'virus', 'this')."""
    lowered = word.lower()
    return len(lowered) > 3 and lowered.endswith("s") and not lowered.endswith(("ss", "us", "is"))


def _antecedent(question: str, topic: Topic) -> str:
    """What the first pronoun of ``question`` stands for: the topic's subject, unless the
    pronoun is plural ('they', 'them') and the subject is not ('hepatitis C'), while the topic's
    question names plural things ('direct-acting antivirals', 'tests'): then the last of those,
    with the words right before it that are not the subject's."""
    pronoun = _PRONOUN.search(question)
    subject = topic.subject
    subject_tokens = [t[0] for t in _tokens(subject)]
    singular = not any(_plural(t) or t.lower() in ("and", "or") for t in subject_tokens)
    if pronoun is None or pronoun[0].lower() not in _PLURAL_PRONOUNS or not singular:
        return subject
    tokens = [t[0] for t in _tokens(topic.query)]
    own = {t.lower() for t in subject_tokens}
    for i in range(len(tokens) - 1, -1, -1):
        if _plural(tokens[i]) and tokens[i].lower() not in own | STOPWORDS:
            first = i
            while first > 0 and tokens[first - 1].lower() not in own | STOPWORDS | FRAME_WORDS:
                first -= 1
            return " ".join(tokens[first : i + 1])
    return subject


def _substitute(question: str, subject: str) -> str:
    """``question`` with its first pronoun replaced by ``subject``."""

    def swap(match: re.Match[str]) -> str:
        word = match[0].lower()
        after = re.match(r"\s+([^\W\d_]+)", question[match.end() :])
        owns = word == "her" and after is not None and after[1].lower() not in STOPWORDS
        return f"{subject}'s" if word in _POSSESSIVE or owns else subject

    return _PRONOUN.sub(swap, question, count=1)


def _parallel(topic: Topic, thing: str) -> tuple[str, bool]:
    """The topic's question with the phrase that ends in the head word of ``thing`` replaced
    by ``thing`` ('When did the first wave start?' and 'the second and third waves' -> 'When
    did the second and third waves start?'), and whether that phrase is in the topic's
    subject; ('', False) when the question has no word of the same stem."""
    named = _tokens(thing)
    head = named[-1][0].lower() if named else ""
    if len(head) < 3 or head in STOPWORDS:
        return "", False
    tokens = _tokens(topic.query)
    head_stem, *query_stems = stems([head, *(t[0].lower() for t in tokens)])
    for i, (token, stem) in enumerate(zip(tokens, query_stems, strict=True)):
        if stem != head_stem:
            continue
        first = i
        while first > 0 and tokens[first - 1][0].lower() not in STOPWORDS:
            first -= 1
        start, end = tokens[first].start(), token.end()
        in_subject = bool(set(words(topic.query[start:end])) & set(words(topic.subject)))
        return f"{topic.query[:start]}{thing}{topic.query[end:]}", in_subject
    return "", False


def _replace(query: str, old: str, new: str) -> str:
    """The previous question asked of ``new``: ``old`` replaced (any case), else added."""
    if old and re.search(re.escape(old), query, re.I):
        return re.sub(re.escape(old), new, query, count=1, flags=re.I)
    return f"What is {new}?"
