"""Spelling tolerance: map misspelt question words onto words the corpus actually uses."""

from __future__ import annotations

import re
from collections.abc import Iterable

from qa.text import STOPWORDS, words

MIN_LENGTH = 4  # shorter words are too ambiguous to correct
MIN_SCORE = 84  # rapidfuzz ratio (0-100) a correction must reach

_TOKEN = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)


class Speller:
    """Corrects words unknown to the corpus to the closest corpus word, when one is close.

    A correction must keep the first letter and be a near match (one or two edits in a long
    word), so ordinary words the corpus lacks ('France', 'dogs') stay as they are and the bot
    can still tell that the documents do not cover them.
    """

    def __init__(self, texts: Iterable[str]) -> None:
        vocabulary: dict[str, set[str]] = {}
        for text in texts:
            for word in words(text):
                if len(word) >= MIN_LENGTH and word not in STOPWORDS and word.isalpha():
                    vocabulary.setdefault(word[0], set()).add(word)
        self._by_initial = {k: sorted(v) for k, v in vocabulary.items()}
        self._known = {w for group in vocabulary.values() for w in group}

    def knows(self, word: str) -> bool:
        return word.lower() in self._known

    def correct_word(self, word: str) -> str:
        """``word`` itself when known or short, else its closest corpus word (if close)."""
        lowered = word.lower()
        if len(lowered) < MIN_LENGTH or lowered in STOPWORDS or lowered in self._known:
            return word
        from rapidfuzz import fuzz, process

        match = process.extractOne(
            lowered, self._by_initial.get(lowered[0], []), scorer=fuzz.ratio, score_cutoff=MIN_SCORE
        )
        return str(match[0]) if match else word

    def correct(self, text: str) -> str:
        """``text`` with misspelt words replaced; everything else is kept as it was."""
        return _TOKEN.sub(lambda m: self.correct_word(m.group(0)), text)
