"""Analysing a question once: what is searched, what kind of answer is wanted, about what.

The analysis is made once per question and handed to retrieval and composing, which never
re-read the raw question. Everything here is about how people ask, in any subject: question
words and forms, greetings and sign-offs, comparisons. Words of the corpus come only from the
``Lexicon`` (spelling, acronyms, document titles).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.lexical import stem_set
from qa.lexicon import Lexicon
from qa.text import FRAME_WORDS, SLIPS, content_words, words

# The kind of answer asked for, first match wins. Patterns are about how questions are put,
# not about any subject.
KINDS: list[tuple[str, re.Pattern[str]]] = [
    (
        "comparison",
        re.compile(r"\b(differ|difference|different from|compare|compared|versus|vs\.?)\b"),
    ),
    (
        "risk",
        re.compile(
            r"\b(risks?|side[- ]effects?|complications?|dangers?|dangerous|harm|harmful|safe"
            r"|safety|adverse)\b"
        ),
    ),
    (
        "cost",
        re.compile(
            r"\b(cost|costs|price|prices|expensive|afford|pay for|insurance|fees?"
            r"|(?<!in )charged?)\b"  # not 'in charge of'
        ),
    ),
    (
        "contraindication",
        re.compile(r"\bwho (should|must|can)(n['’]?t| not)\b|\b(avoid|contraindicat)"),
    ),
    (
        "statistic",
        re.compile(
            r"\b(prevalen|incidence|how (many|common)|percent|statistic)"
            # a rate of something counted ('fatality rate', 'success rate'), not a speed
            # ('the rate of nerve regrowth', 'heart rate', 'growth rate')
            r"|\b(?!(the|a|an|its|their|this|that|what|which|high|higher|highest|low|lower"
            r"|lowest|fast|faster|slow|slower|growth|regrowth|heart|flow)\b)[a-z]+ rates?\b"
        ),
    ),
    (
        "duration",
        re.compile(
            r"\bhow (long|fast|quickly|soon|often)\b|\b(rate|speed)\b"
            r"|\bthe (\w+ ){0,2}(duration|period)\b"  # 'the mean incubation period'
            r"|\bthe (?!(best|right|same|first|last|next|whole|only|exact)\b)\w+ time\b"
        ),
    ),
    ("reason", re.compile(r"^why\b|\bwhy (would|do|does|is|are|might)\b|\bpurpose\b")),
    ("timing", re.compile(r"^when\b|\bwhen (is|are|should|would|can|do|does|might)\b")),
    (
        "cause",
        re.compile(  # not 'What symptoms does it cause?', which asks what is felt
            r"^(?!(what|which) (other )?(symptoms|signs)\b).*"
            r"\b(cause[sd]?|causing|lead(s)? to|reason|risk factor|origin)"
        ),
    ),
    (
        "symptom",
        re.compile(
            r"\b(symptom|sign|happens?|effects?|consequence|feel|expect|hurts?|painful|sore)"
        ),
    ),
    ("diagnosis", re.compile(r"\b(diagnos|test(s|ed)?\b|detect|identif)")),
    ("treatment", re.compile(r"\b(treat|therap|manag|cure|relie|used for|help)")),
    (
        "procedure",
        re.compile(r"\bhow (is|are|was|were) .*\b(performed|done|carried out)|procedure"),
    ),
    ("mechanism", re.compile(r"\bhow (does|do|can|did)\b|\bmechanism|\bwork")),
    ("list", re.compile(r"\b(which|what) (\w+ )?(types|kinds|sorts|forms|examples)\b")),
    ("location", re.compile(r"\bwhere\b")),
    ("definition", re.compile(r"^(what|who) (is|are)\b|\bdefin|\bmeaning of|\bwhat does .* mean")),
]
# A query of at most this many words, none of them a function word, is a term typed as into a
# search box ('denervation', 'nerve regrowth?'): it asks what the term is.
TERM_WORDS = 4
# A question that opens with a verb asks whether something holds ("Does X cause Y?").
_YES_NO = re.compile(r"^(is|are|can|does|do|did|should|will|would|could|may|has|have)\b", re.I)
# Words naming the kind of answer wanted, not its subject.
KIND_WORDS = frozenset(
    """cause causes caused causing reason reasons treat treated treatment treatments therapy
    symptom symptoms sign signs effect effects consequence consequences diagnose diagnosed
    diagnosis test tests procedure procedures performed differ difference different compare
    define definition prevalence last lasts risk risks side danger dangers safe cost costs
    price""".split()
)
# 'difference between A and B', 'A vs B', 'compare A with B', 'how does A differ from B'
_COMPARED = [
    re.compile(r"\bdifferences? between (?P<a>.+?) and (?P<b>.+)$", re.I),
    re.compile(r"^(?:what is |what's )?(?P<a>.+?) (?:vs\.?|versus) (?P<b>.+)$", re.I),
    re.compile(r"\bcompare (?P<a>.+?) (?:and|with|to) (?P<b>.+)$", re.I),
    re.compile(
        r"\b(?:how|in what way) (?:does|do|is|are) (?P<a>.+?) (?:differ|different) from "
        r"(?P<b>.+)$",
        re.I,
    ),
]
_ARTICLE = re.compile(r"^(the|a|an)\s+", re.I)

# Greetings, sign-offs and politeness: they say nothing about what is asked.
_GREETING = re.compile(
    r"^\s*(?:(?:hi|hello|hey|hiya|dear|good (?:morning|afternoon|evening|day)|greetings)"
    r"(?: there| all| everyone| doctor| doc| team)?[\s,.!:;-]+)+",
    re.I,
)
_SIGN_OFF = re.compile(
    r"[\s,.!;:-]*(?:(?:many |(?:thanks?|thank you)(?: so much| very much| a lot| a bunch)?"
    r"|thx|ty|cheers|regards|best regards|kind regards|best wishes|sincerely"
    r"|appreciate (?:any|your) help|any help (?:is )?appreciated|thanks in advance|in advance"
    r"|please help|god bless)[\s,.!]*)+(?:[A-Z][a-z]+[.!]?)?\s*$",
    re.I,
)
# What a chat message may say besides thanks when it asks nothing: 'ok', 'great, thanks'.
_ACKNOWLEDGED = re.compile(
    r"[\s,.!]*(ok(ay)?|great|perfect|cool|nice|got it|i see|all ?right|understood)?[\s,.!]*", re.I
)
LONG_QUESTION = 25  # words: above this a question is searched on its focus as well
_CLAUSE = re.compile(r"[^.?!,;\n]+[.?!]*")
_ASKING = re.compile(
    r"\?|^\s*(what|which|who|whom|whose|why|how|when|where|is|are|can|could|does|do|did|should"
    r"|will|would|may|might)\b",
    re.I,
)


@dataclass(frozen=True)
class Question:
    """One analysed question; ``query`` is what retrieval and composing work on."""

    text: str  # as typed (cleaned)
    query: str  # follow-up completed, greetings dropped, spelling corrected
    words_query: str  # the query as words are matched: without the particle of a phrasal
    # verb ('grow back', 'give up'), which would match the noun ('back pain'), and with the
    # long form of each acronym it uses that the corpus defines ('RFA')
    focus: str  # for long questions: the first line and the asking sentences; else the query
    kind: str  # definition, cause, risk, ..., 'yesno' or 'other'
    yes_no: bool  # opens with a verb: the answer quotes the evidence, never a bare yes/no
    terms: tuple[str, ...]  # content words that evidence is matched on
    subject: tuple[str, ...]  # the terms that name what is asked about
    aspect: str  # the query without the document title it names: what is asked of it
    # ('' when it names none: then all of the query is what is asked)
    compared: tuple[str, ...]  # for a comparison, the things compared
    # stems of subject words that one document title alone holds: the question names that
    # document ('the library's opening hours' in a folder with one library page)
    names_document: frozenset[str] = frozenset()


def kind_of(query: str) -> str:
    """The kind of answer asked for (definition, cause, duration, ...), 'yesno' for a question
    that opens with a verb and asks nothing more specific, 'other' if unclear."""
    lowered = query.lower().strip()
    for name, pattern in KINDS:
        if pattern.search(lowered):
            return name
    return "yesno" if _YES_NO.match(lowered) else "other"


def without_pleasantries(text: str) -> str:
    """``text`` without a leading greeting and trailing sign-offs ('hi, ...? thanks')."""
    return pleasantries_off(text) or text


def pleasantries_off(text: str) -> str:
    """``text`` without its greeting and sign-offs: '' when it is nothing else ('thanks!',
    'hello there', 'ok, thank you'), which asks nothing of the documents."""
    rest = _SIGN_OFF.sub("", _GREETING.sub("", f"{text} ")).strip()
    return "" if _ACKNOWLEDGED.fullmatch(rest) else rest


def greets(text: str) -> bool:
    """Whether ``text`` opens with a greeting ('hi', 'good morning')."""
    return bool(_GREETING.match(f"{text} "))


def focus_of(query: str) -> str:
    """For a long question, its first clause (often the subject: 'shingles pain.') and the
    clauses that ask ('what can she take?'); a short question is its own focus."""
    if len(query.split()) <= LONG_QUESTION:
        return query
    clauses = [c.strip() for c in _CLAUSE.findall(query) if c.strip()]
    asking = [c for c in clauses[1:] if _ASKING.search(c)]
    picked = [clauses[0], *asking] if clauses else [query]
    return " ".join(dict.fromkeys(picked))


def compared_of(query: str) -> tuple[str, ...]:
    """The two things a comparison names ('denervation', 'neurolysis'), or ()."""
    text = query.strip().rstrip("?.! ")
    for pattern in _COMPARED:
        match = pattern.search(text)
        if match:
            things = tuple(_ARTICLE.sub("", match[g].strip(" ,;:")) for g in ("a", "b"))
            if all(content_words(thing) for thing in things):
                return things
    return ()


# 'grow back', 'give up', 'pass out': a particle that ends the question or comes before a
# function word, and follows no determiner ('my back' is a noun).
_PARTICLE = re.compile(
    r"(?<!\bmy )(?<!\byour )(?<!\bhis )(?<!\bher )(?<!\bthe )(?<!\ba )(?<!\bour )"
    r"(?<!\btheir )(?<!\bits )\b(back|up|out|off|down|away|over)\b(?=\s*[?.!]*\s*$|\s+(on|in|to|"
    r"from|after|again|with|for|at|by)\b)",
    re.I,
)


def without_particles(query: str) -> str:
    """``query`` without the particles of phrasal verbs, for matching words."""
    return " ".join(_PARTICLE.sub(" ", query).split())


def aspect_of(query: str, topic: frozenset[str]) -> str:
    """The words of ``query`` whose stems are not in ``topic``: what is asked about it ('' for
    no topic: the query itself is, and its vector serves without encoding it again)."""
    if not topic:
        return ""
    return " ".join(
        w for w in re.findall(r"[^\W_]+(?:['’-][^\W_]+)*", query) if not stem_set(w) & topic
    )


def is_term(query: str) -> bool:
    """Whether ``query`` is a bare term ('denervation', 'library card?'), not a question."""
    named = words(query)
    return (
        0 < len(named) <= TERM_WORDS and content_words(query) == named and kind_of(query) == "other"
    )


def as_question(query: str) -> str:
    """``query`` as a question: a bare term ('denervation', 'RFA?') asks what it is."""
    return f"What is {query.strip().rstrip('?!. ')}?" if is_term(query) else query


def _names(word: str, lexicon: Lexicon) -> bool:
    """Whether ``word`` can name a subject: a word of four letters or more, a word of the
    corpus, or a three-letter word ('fly', 'dog', 'sex') that is not a slip of a stop word."""
    return len(word) > 3 or lexicon.knows(word) or (len(word) == 3 and word not in SLIPS)


def analyse(text: str, lexicon: Lexicon, query: str | None = None) -> Question:
    """The analysis of ``text`` (already cleaned); ``query`` is its follow-up reading, if any."""
    query = as_question(lexicon.correct(without_pleasantries(query or text)))
    terms = tuple(w for w in content_words(query) if w not in FRAME_WORDS)
    subject = tuple(w for w in terms if w not in KIND_WORDS and _names(w, lexicon))
    return Question(
        text=text,
        query=query,
        words_query=lexicon.expand(without_particles(query)),
        focus=focus_of(query),
        kind=kind_of(query),
        yes_no=bool(_YES_NO.match(query.strip())),
        terms=terms,
        subject=subject,
        aspect=aspect_of(query, lexicon.named_title(query)),
        compared=compared_of(query),
        names_document=lexicon.sole_title_stems(subject),
    )
