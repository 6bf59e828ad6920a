"""The corpus's own vocabulary: spelling tolerance and acronyms, for matching questions.

Built once per loaded index from the chunks' text. It lets a misspelt question word match
the word the documents use ('reinervation' -> 'reinnervation'), tells whether the corpus
uses a word at all, and reads 'RFA' as 'radiofrequency ablation' where a document defines it.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable

from qa.lexical import stem_set
from qa.text import STOPWORDS, shares_stem, stems, words

MIN_LENGTH = 4  # shorter words are too ambiguous to correct
# Version of what the vocabulary holds, kept in the index manifest: an index whose vocabulary
# is older is rebuilt (reusing its vectors). 2: words with digits or hyphens are known.
# 3: short forms with digits ('HBoV1', 'HCoV-229E'). 4: acronym plurals stem to the acronym.
VERSION = 4
MIN_SCORE = 84  # rapidfuzz ratio (0-100) a correction must reach
# Prefixes that make an English word its opposite ('irreversible', 'unsafe', 'noninvasive').
NEGATING_PREFIXES = ("un", "in", "im", "il", "ir", "non", "non-")

_TOKEN = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)
# 'radiofrequency ablation (RFA)', 'human bocavirus 1 (HBoV1)': a short form in brackets that
# opens with a capital, after a space, and the (up to six) words right before it, read
# backwards from the bracket: a pattern that matched the words and the bracket together
# backtracked exponentially over runs of dashes (the rule lines of a Markdown table) and never
# finished.
_SHORT_FORM = re.compile(r"(?<=[\s-])\(([A-Z](?:-?[A-Za-z0-9]){1,9})\)")
_ACRONYM_TOKEN = re.compile(r"[^\W_]+(?:-[^\W_]+)*")  # 'RFA', 'HBoV1', 'HCoV-229E'
_LONG_FORM_REVERSED = re.compile(r"[\w’'\s-]*")  # words, spaces and dashes
LONG_FORM_WORDS = 6
LONG_FORM_CHARS = 200  # how far back the words of a long form are looked for


class Lexicon:
    """Words and acronyms of a corpus.

    A correction must keep the first letter and be a near match (one or two edits in a long
    word), so ordinary words the corpus lacks ('France', 'dogs') stay as they are and the bot
    can still tell that the documents do not cover them.
    """

    def __init__(self, texts: Iterable[str], titles: Iterable[str] = ()) -> None:
        vocabulary: dict[str, set[str]] = {}
        forms: set[str] = set()
        acronyms: dict[str, str] = {}
        for text in texts:
            for word in words(text):
                if word in STOPWORDS or len(word) < MIN_LENGTH:
                    continue
                if word.isalpha():
                    vocabulary.setdefault(word[0], set()).add(word)
                else:
                    forms.add(word)
            for short, long_form in defined_acronyms(text):
                expansion = _expansion(long_form, short)
                if expansion:
                    acronyms.setdefault(short.lower(), expansion)
        self._setup({k: sorted(v) for k, v in vocabulary.items()}, acronyms, titles, sorted(forms))

    def _setup(
        self,
        by_initial: dict[str, list[str]],
        acronyms: dict[str, str],
        titles: Iterable[str],
        forms: list[str],
    ) -> None:
        self._language: frozenset[str] = frozenset()
        self.acronyms = acronyms
        self._spelt_long_forms = {s: f" {' '.join(words(f))} " for s, f in acronyms.items()}
        self._by_initial = by_initial  # the words spelling corrections may turn into
        self._initial_sets = {k: frozenset(v) for k, v in by_initial.items()}  # for knows()
        self._forms = forms  # words with digits, hyphens or apostrophes: 'covid-19', 'hbov1'
        # 'wifi' for 'wi-fi', 'email' for 'e-mail': a hyphenated word written as one
        self._unhyphenated = {f.replace("-", ""): f for f in forms if "-" in f}
        self._known = {w for group in by_initial.values() for w in group} | set(acronyms)
        self._known |= set(forms)
        self._known_stems = set(stems(sorted(self._known)))
        self._title_names = sorted(set(titles))
        self._titles: dict[str, list[frozenset[str]]] = {}  # stem -> stem sets of titles
        for title in self._title_names:
            title_stems = stem_set(title)
            for stem in title_stems:
                self._titles.setdefault(stem, []).append(title_stems)

    def to_bytes(self) -> bytes:
        """The vocabulary as JSON, for a store that keeps it beside the index."""
        parts = {"by_initial": self._by_initial, "acronyms": self.acronyms, "forms": self._forms}
        return json.dumps({**parts, "titles": self._title_names}, ensure_ascii=False).encode()

    @classmethod
    def from_bytes(cls, blob: bytes) -> Lexicon:
        """The Lexicon ``to_bytes`` wrote."""
        data = json.loads(blob)
        lexicon = cls.__new__(cls)
        lexicon._setup(data["by_initial"], data["acronyms"], data["titles"], data.get("forms", []))
        return lexicon

    def knowing(self, language: frozenset[str]) -> Lexicon:
        """This vocabulary, told the ordinary words of the language (lower case): those are
        never corrected into a corpus word, as 'decides' is not a misspelt 'decades'."""
        lexicon = copy.copy(self)
        lexicon._language = language
        return lexicon

    def named_title(self, text: str) -> frozenset[str]:
        """The stems of the document title that ``text`` names best (largest share of the
        title's words, then most words), or an empty set when it names none."""
        asked = stem_set(text)
        candidates = {title for stem in asked for title in self._titles.get(stem, [])}
        if not candidates:
            return frozenset()
        return max(
            candidates,
            key=lambda t: (len(t & asked) / len(t), len(t & asked), -len(t), sorted(t)),
        )

    def sole_title_stems(self, words: Iterable[str]) -> frozenset[str]:
        """The stems of ``words`` that one document title alone holds ('library' in a folder
        where only 'Using Eastbrook Public Library' says it): words that name one document."""
        return frozenset(s for s in stem_set(" ".join(words)) if len(self._titles.get(s, ())) == 1)

    def knows(self, word: str) -> bool:
        """Whether the corpus uses ``word``, a form of it, or defines it as an acronym."""
        lowered = word.lower()
        if self.uses(lowered):
            return True
        return shares_stem(lowered, self._initial_sets.get(lowered[:1], frozenset()))

    def uses(self, word: str) -> bool:
        """The corpus uses this word or another with the same stem ('clean' for 'cleans')."""
        lowered = word.lower()
        return lowered in self._known or stems([lowered])[0] in self._known_stems

    def correct_word(self, word: str) -> str:
        """``word`` itself when short, a word of the language or the corpus's own, else the
        corpus's hyphenated spelling of it ('wifi' -> 'wi-fi'), else its closest corpus word
        (if close)."""
        lowered = word.lower()
        ordinary = lowered in STOPWORDS or lowered in self._language
        if lowered in self._unhyphenated and not self.uses(lowered):
            return self._unhyphenated[lowered]
        if len(lowered) < MIN_LENGTH or ordinary or self.uses(lowered):
            return word
        from rapidfuzz import fuzz, process

        match = process.extractOne(
            lowered, self._by_initial.get(lowered[0], []), scorer=fuzz.ratio, score_cutoff=MIN_SCORE
        )
        return str(match[0]) if match else word

    def correct(self, text: str) -> str:
        """``text`` with misspelt words replaced; everything else is kept as it was."""
        return _TOKEN.sub(lambda m: self.correct_word(m.group(0)), text)

    def expand(self, text: str) -> str:
        """``text`` followed by the long forms of the corpus acronyms it uses, written as
        acronyms are (two capitals or more: 'RFA', 'HCoV'; not the word 'is' where a
        document defines 'IS'), and by the short forms of the long forms it spells out
        ('human bocavirus 1' -> 'HBoV1'): a document that defines a short form goes on to
        use it alone."""
        used = dict.fromkeys(
            w.lower() for w in _ACRONYM_TOKEN.findall(text) if sum(c.isupper() for c in w) >= 2
        )
        found = [self.acronyms[w] for w in used if w in self.acronyms]
        spelt = f" {' '.join(words(text))} "
        found += [
            short
            for short, long_form in self._spelt_long_forms.items()
            if short not in used and long_form in spelt
        ]
        found += self.negations(text)
        return f"{text} ({'; '.join(found)})" if found else text

    def negations(self, text: str) -> list[str]:
        """The corpus's words that negate a word of ``text`` it never uses, or that it negates
        ('reversible' -> 'irreversible', 'unsafe' -> 'safe'): a yes/no question is answered
        by what the documents say either way."""
        found: list[str] = []
        for word in dict.fromkeys(words(text)):
            if len(word) < MIN_LENGTH or word in STOPWORDS or self.uses(word):
                continue
            forms = [f"{prefix}{word}" for prefix in NEGATING_PREFIXES]
            forms += [word[len(p) :] for p in NEGATING_PREFIXES if word.startswith(p)]
            for form in forms:
                if len(form) >= MIN_LENGTH and self.uses(form):
                    found.append(self._corpus_form(form))
        return list(dict.fromkeys(found))

    def _corpus_form(self, word: str) -> str:
        """The corpus's own word with the stem of ``word`` (``word`` itself if it has one)."""
        if word in self._known:
            return word
        stem = stems([word])[0]
        group = self._by_initial.get(word[:1], [])
        return next((w for w in group if stems([w])[0] == stem), word)


def defined_acronyms(text: str) -> list[tuple[str, list[str]]]:
    """Each short form in brackets in ``text`` ('(RFA)') with the words right before it, the
    candidates for its long form; linear in the length of the text."""
    found = []
    for match in _SHORT_FORM.finditer(text):
        before = text[max(0, match.start() - LONG_FORM_CHARS) : match.start()][::-1]
        run = _LONG_FORM_REVERSED.match(before)
        words_before = run.group()[::-1].split() if run else []
        found.append((match.group(1), words_before[-LONG_FORM_WORDS:]))
    return found


def _expansion(candidates: list[str], short: str) -> str:
    """The trailing words of ``candidates`` whose initials spell ``short``, or ''."""
    letters = [c for c in short.lower() if c.isalnum()]
    for size in range(1, len(candidates) + 1):
        tail = candidates[-size:]
        initials = [w[0].lower() for w in tail]
        if initials == letters or "".join(w.lower() for w in tail).startswith(short.lower()):
            return " ".join(tail)
        # a compound word may give two letters: 'radiofrequency' -> 'r', 'f'
        if len(tail) < len(letters) and initials[0] == letters[0] and _spells(tail, letters):
            return " ".join(tail)
    return ""


def _spells(tail: list[str], letters: list[str]) -> bool:
    """Whether the letters can be read in order from the words, each word giving its first."""
    position = 0
    for word in tail:
        word = word.lower()
        if position >= len(letters) or word[0] != letters[position]:
            return False
        position += 1
        while position < len(letters) and letters[position] in word[1:]:
            word = word[word.index(letters[position], 1) :]
            position += 1
    return position == len(letters)
