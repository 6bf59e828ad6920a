"""BM25 terms as answering computes them: the same as bm25s.tokenize, which built the index."""

from __future__ import annotations

from pathlib import Path

import bm25s

from qa.lexical import LexicalRanker, _tokenize
from qa.text import stemmer

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def _lines() -> list[str]:
    lines = [line for p in sorted(CORPUS.glob("*.txt")) for line in p.read_text().splitlines()]
    return lines + [
        "",
        "   ",
        "Ünïcödé café naïve ΑΒΓΔ 日本語 x y z",
        "it's don't U.S. e.g. 3.5mg C5-C6 nerve_block ALL CAPS Running runners ran",
    ]


def test_terms_are_bm25s_own_one_text_at_a_time_and_in_a_batch() -> None:
    lines = _lines()
    reference = bm25s.tokenize(
        lines, stopwords="en", stemmer=stemmer(), show_progress=False, return_ids=False
    )
    assert _tokenize(lines) == reference
    assert [_tokenize([line])[0] for line in lines] == reference
    assert any(reference), "the corpus has words"


def test_scores_follow_the_terms() -> None:
    ranker = LexicalRanker.build(
        ["Neurolysis destroys nerves.", "Denervation is the loss of nerve supply."]
    )
    scores = ranker.scores("What does neurolysis destroy?")
    assert scores[0] > 0 and scores[1] == 0


def test_an_acronym_and_its_plural_are_one_term() -> None:
    """Snowball keeps the 's' of 'DVDs' (no vowel before it): 'DVD' would never match it."""
    ranker = LexicalRanker.build(["Books are lent for three weeks and DVDs for one week.", "PCs"])
    scores = ranker.scores("How long can I keep a DVD?")
    assert scores[0] > 0 and scores[1] == 0
    assert ranker.scores("Can I use the PC?")[1] > 0
    # a vowel before the 's': Snowball's own stem, whatever it is
    assert _tokenize(["gas rnas causes ids"]) == [["gas", "rnas", "caus", "id"]]
