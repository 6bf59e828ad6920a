"""Word-level text helpers shared by composing, spelling and conversation handling."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

_WORD = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)

STOPWORDS = frozenset(
    """a an the and or of to in on for with by from at as is are was were be been being it its
    this that these those there their they them he she his her we you your i me my our what
    which who whom whose when where why how do does did doing done can could should would may
    might will shall must not no yes if than then so such about into over under between any
    some all each more most other own same too very just also here
    tell explain describe please get got have has had s t until unless what's whats how's
    it's that's there's who's where's i'm i've don't doesn't can't isn't aren't""".split()
)

# A stop word with one letter dropped ('wat', 'hw', 'tht'): a slip of typing, not a name.
SLIPS = frozenset(w[:i] + w[i + 1 :] for w in STOPWORDS for i in range(len(w))) - STOPWORDS

# Words that frame a question rather than name its subject ("What *happens* ...",
# "What should I *expect* ..."): they are not required to appear in the evidence.
FRAME_WORDS = frozenset(
    """happen happens happened expect expected right main common usually usual typical
    typically kind kinds type types way ways thing things mean means meaning called name
    named know known example examples like exactly really generally someone people person
    patient patients doctor doctors go going done use used work works working involve
    involves involved long fast quickly soon often much many after before during given give
    gets take taken receive next purpose become becomes simply simple layman laymans terms
    briefly detail details short words plain summary overview choice option options best
    good idea make makes made""".split()
)


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits; inner apostrophes and hyphens kept)."""
    return [w.lower() for w in _WORD.findall(text)]


def content_words(text: str) -> list[str]:
    """Words that carry meaning: no stop words, no one-letter tokens."""
    return [w for w in words(text) if w not in STOPWORDS and len(w) > 1]


class _Stemmer:
    """English Snowball (PyStemmer), and the plural of an acronym without a vowel, which
    Snowball leaves as it is ('DVDs', 'PCs', 'DCs'), read as the acronym ('dvd' for both
    'DVD' and 'DVDs')."""

    def __init__(self) -> None:
        import Stemmer

        self._snowball = Stemmer.Stemmer("english")

    def stemWords(self, tokens: list[str]) -> list[str]:  # noqa: N802 (the name bm25s calls)
        found = self._snowball.stemWords(tokens)
        return [_singular_acronym(t, s) for t, s in zip(tokens, found, strict=True)]


_VOWELS = frozenset("aeiouy")


def _singular_acronym(token: str, stem: str) -> str:
    """'dvd' for 'dvds' (Snowball keeps an 's' after a part with no vowel), else ``stem``."""
    head = token[:-1]
    plural = stem == token and token.endswith("s") and len(head) >= 2 and head.isalpha()
    return head if plural and not set(head) & _VOWELS else stem


@lru_cache(maxsize=1)
def stemmer() -> Any:
    """The process's English stemmer (_Stemmer), shared by every word matcher."""
    return _Stemmer()


def stems(tokens: list[str]) -> list[str]:
    """Snowball stems, so 'causes', 'caused' and 'causing' match."""
    return list(stemmer().stemWords(tokens))


def shares_stem(term: str, words: Iterable[str]) -> bool:
    """Loose morphological match of ``term`` with any of ``words``: 'lost'~'loses',
    'relieves'~'relief', 'grow'~'regrow'.

    True for a word when one of the two contains the other (both at least four letters) or
    they share a prefix covering all but the last three letters of ``term`` (and at least
    three letters). The words are searched as one joined string (a frozenset's is kept, as
    a sentence's words are matched against every term of a question).
    """
    if len(term) < 3:
        return False
    found = words if isinstance(words, frozenset) else frozenset(words)
    joined = _joined(found)
    if f" {term[: max(3, len(term) - 3)]}" in joined:
        return True
    return len(term) >= 4 and (term in joined or not found.isdisjoint(_inner_words(term)))


@lru_cache(maxsize=50_000)
def _joined(words: frozenset[str]) -> str:
    """The words after one space each: ' w' in it finds a word that starts with w."""
    return "".join(f" {word}" for word in sorted(words))


@lru_cache(maxsize=50_000)
def _inner_words(term: str) -> frozenset[str]:
    """The parts of ``term`` of at least four letters, ``term`` included."""
    return frozenset(term[i:j] for i in range(len(term)) for j in range(i + 4, len(term) + 1))
