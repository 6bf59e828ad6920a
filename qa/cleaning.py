"""Cleaning what people type before it is searched: hostile or invisible characters go.

A question may arrive with terminal escape codes, control characters, zero-width or
right-to-left marks, compatibility forms (full-width letters) or lone surrogates from a broken
client. None of these carry meaning for retrieval, and some break tokenizers or logs.
"""

from __future__ import annotations

import re
import unicodedata

# ANSI escape sequences (CSI such as colours, OSC such as window titles).
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")
# Control characters become spaces (they often separate words); invisible format marks
# (zero-width, bidi, soft hyphen, BOM), surrogates and private-use characters are dropped.
_AS_SPACE = {"Cc", "Zl", "Zp"}
_DROPPED = {"Cf", "Cs", "Co"}


def clean_question(text: str) -> str:
    """``text`` in NFKC form without escape codes, controls or invisible marks, blanks collapsed."""
    text = _ANSI.sub(" ", text)
    kept = []
    for char in text:
        kind = unicodedata.category(char)
        if kind in _AS_SPACE:
            kept.append(" ")
        elif kind not in _DROPPED:
            kept.append(char)
    return " ".join(unicodedata.normalize("NFKC", "".join(kept)).split())


def has_words(text: str) -> bool:
    """True when ``text`` has a letter or digit in any script (not only symbols or emoji)."""
    return any(char.isalnum() for char in text)
