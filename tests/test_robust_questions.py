"""Hostile and odd questions: blank, huge, invisible characters, other scripts, markup."""

from __future__ import annotations

import time

import pytest

from qa import Answer, Chatbot
from qa.cleaning import clean_question
from qa.cli import main
from qa.config import Settings
from tests.conftest import SEED_CORPUS

PLAIN = "What is denervation?"


def _same_answer(bot: Chatbot, question: str) -> Answer:
    """The answer to ``question``, checked to equal the answer to the plain question."""
    answer = bot.fork().ask(question)
    plain = bot.fork().ask(PLAIN)
    assert answer.question == PLAIN
    assert {**answer.to_dict(), "question": ""} == {**plain.to_dict(), "question": ""}
    assert "loss of nerve supply" in answer.text
    return answer


def _check_citations(answer: Answer) -> None:
    for citation in answer.citations:
        text = (SEED_CORPUS / citation.source).read_text(encoding="utf-8")
        assert citation.quote == text[citation.start : citation.end]


@pytest.mark.parametrize(
    "blank",
    ["", "   ", "\n\t\r", "\u200b\u200c\u200d\ufeff", "\u200f\u202e\u2066", "\x00\x07\x1b[0m"],
    ids=["empty", "spaces", "newlines", "zero-width", "bidi-marks", "controls"],
)
def test_blank_or_invisible_question_raises_value_error(bot: Chatbot, blank: str) -> None:
    with pytest.raises(ValueError, match="empty: type a question"):
        bot.fork().ask(blank)


@pytest.mark.parametrize("symbols", ["???", "🤔🧠", "<>", "... --- ..."])
def test_question_of_symbols_only_is_refused(bot: Chatbot, symbols: str) -> None:
    with pytest.raises(ValueError, match="no words"):
        bot.fork().ask(symbols)


@pytest.mark.parametrize(
    "huge",
    ["x" * 100_000, (PLAIN + " ") * 5_000, "\u200b" * 99_980 + PLAIN],
    ids=["x", "repeated", "zero-width-padding"],
)
def test_huge_question_is_refused_at_once(bot: Chatbot, huge: str) -> None:
    began = time.perf_counter()
    with pytest.raises(ValueError, match=r"characters long; the limit is 1,000\. Ask something"):
        bot.fork().ask(huge)
    assert time.perf_counter() - began < 2.0  # refused before any retrieval work


def test_long_question_padded_with_invisible_marks_is_answered(bot: Chatbot) -> None:
    """Within the limit once cleaned: invisible padding does not count against it."""
    _same_answer(bot, "\u200b" * 2_000 + PLAIN)


def test_huge_question_in_the_cli_is_a_message(
    seed_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--corpus", str(seed_settings.corpus_dir), "--index", str(seed_settings.index_dir)]
    assert main(["ask", "why " * 25_000, *options]) == 2
    captured = capsys.readouterr()
    assert "qa: The question is 100,000 characters long; the limit is 1,000" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


@pytest.mark.parametrize(
    "question",
    [
        "What\x00 is\x1b[31m denervation?\x07",  # NUL, ANSI colour code, bell
        "What\u200b is de\u200bner\u200cvation?\u200f",  # zero-width space/non-joiner, RLM
        "\u202eWhat is denervation?\u202c",  # right-to-left override ... pop
        "Ｗｈａｔ ｉｓ ｄｅｎｅｒｖａｔｉｏｎ？",  # full-width forms
        "What is denervation?\ud800",  # lone surrogate from a broken client
        "What\u2028is\u00a0denervation?",  # line separator, no-break space
    ],
    ids=["controls", "zero-width", "rtl-override", "full-width", "surrogate", "odd-spaces"],
)
def test_invisible_and_control_characters_are_removed_before_answering(
    bot: Chatbot, question: str
) -> None:
    _same_answer(bot, question)


def test_emoji_around_a_question_do_not_stop_the_answer(bot: Chatbot) -> None:
    answer = bot.fork().ask("🤔 What is denervation? 🧠")
    assert not answer.abstained and "loss of nerve supply" in answer.text
    assert answer.citations[0].source == "denervation.txt"


@pytest.mark.parametrize(
    "question",
    [
        "Что такое денервация?",
        "什么是去神经支配？",
        "ما هو إزالة التعصيب؟",
        "\u200fما هو\u200f التعصيب؟",
        "デナベーションとは何ですか？",
        "¿Qué es la denervación?",
    ],
)
def test_other_scripts_do_not_crash_and_cite_only_real_text(bot: Chatbot, question: str) -> None:
    """The corpus and model are English: an answer, if any, must still quote the files."""
    answer = bot.fork().ask(question)
    assert answer.abstained == (answer.citations == [])
    _check_citations(answer)


@pytest.mark.parametrize(
    "question",
    [
        "<script>alert('x')</script>What is denervation?",
        "<b>What is denervation?</b>",
        "What is neurolysis? <img src=x onerror=alert(1)>",
        "'; DROP TABLE documents; -- What is neurolysis?",
    ],
)
def test_markup_in_a_question_is_text_and_never_reaches_the_answer(
    bot: Chatbot, question: str
) -> None:
    answer = bot.fork().ask(question)
    assert answer.question == question  # kept as typed (the UI escapes it when shown)
    for fragment in ("<script", "<img", "<b>", "onerror", "DROP TABLE"):
        assert fragment not in answer.text
        assert all(fragment not in c.quote for c in answer.citations)
    _check_citations(answer)


def test_markup_question_in_the_cli_prints_plain_text(
    seed_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    options = ["--corpus", str(seed_settings.corpus_dir), "--index", str(seed_settings.index_dir)]
    assert main(["ask", "<b>What is denervation?</b>", *options]) == 0
    out = capsys.readouterr().out
    assert "loss of nerve supply" in out and "<b>" not in out


def test_clean_question_keeps_words_of_every_script() -> None:
    assert clean_question(" \tЧто\u200b такое\n денервация? ") == "Что такое денервация?"
    assert clean_question("naïve café 神経 🧠") == "naïve café 神経 🧠"
    assert clean_question("a\x1b]0;title\x07b") == "a b"  # OSC escape (terminal title)
