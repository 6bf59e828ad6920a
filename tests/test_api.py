"""The Python API on the real model and a real FAISS index of the seed corpus."""

from __future__ import annotations

import pytest

from qa import Answer, Chatbot, ask
from qa.compose import shown
from tests.conftest import SEED_CORPUS


def _file_text(source: str) -> str:
    return (SEED_CORPUS / source).read_bytes().decode("utf-8")


def test_ask_returns_cited_sentences_from_the_corpus() -> None:
    answer = ask("What is denervation?")
    assert isinstance(answer, Answer) and not answer.abstained
    assert "loss of nerve supply" in answer.text
    assert answer.citations and answer.citations[0].source == "denervation.txt"
    for citation in answer.citations:
        assert citation.quote == _file_text(citation.source)[citation.start : citation.end]
        assert f"[{citation.n}]" in answer.text
        assert shown(citation.quote) in answer.text  # no word that is not in a cited sentence
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))


def test_out_of_corpus_question_abstains_and_cites_nothing(bot: Chatbot) -> None:
    answer = bot.fork().ask("What is the capital of France?")
    assert answer.abstained and answer.citations == []
    assert "not" in answer.text.lower()


@pytest.mark.parametrize("blank", ["", "   ", "\n\t"])
def test_blank_question_raises_value_error(bot: Chatbot, blank: str) -> None:
    with pytest.raises(ValueError, match="empty"):
        bot.fork().ask(blank)
    with pytest.raises(ValueError):
        ask(blank)


def test_retrieve_ranks_passages_with_spans(bot: Chatbot) -> None:
    passages = bot.retrieve("Which chemicals are used for chemical neurolysis?", k=5)
    assert 1 <= len(passages) <= 5
    assert passages[0].source == "neurolysis.txt"
    assert "phenol" in " ".join(p.text for p in passages[:2])
    scores = [p.score for p in passages]
    assert scores == sorted(scores, reverse=True)
    for p in passages:
        assert p.text == _file_text(p.source)[p.start : p.end]


def test_follow_up_uses_the_conversation_and_reset_forgets_it(bot: Chatbot) -> None:
    chat = bot.fork()
    chat.ask("What is cryoneurolysis?")
    follow = chat.ask("How is it performed?")
    assert "cryoneurolysis" in follow.query.lower()
    assert not follow.abstained and follow.citations[0].source == "neurolysis.txt"
    chat.reset()
    assert chat.history == []
    assert "cryoneurolysis" not in chat.ask("How is it performed?").query.lower()


def test_answers_are_deterministic(bot: Chatbot) -> None:
    first = bot.fork().ask("How fast do damaged nerves regrow?")
    second = bot.fork().ask("How fast do damaged nerves regrow?")
    assert first.to_dict() == second.to_dict()
