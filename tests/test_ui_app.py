"""The chat page's Python side without a browser: source context, HTML escaping, failures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa.chat import Chatbot
from qa.documents import excerpt
from tests.conftest import SEED_CORPUS
from ui import render
from ui.app import EXAMPLES, SORRY, Session, answered_examples, respond, show_citation


def test_excerpt_is_the_paragraphs_around_the_span_in_its_section(bot: Chatbot) -> None:
    answer = bot.fork().ask("What is cryoneurolysis?")
    citation = answer.citations[0]
    context = excerpt(SEED_CORPUS, citation.source, citation.start, citation.end, citation.quote)
    text = (SEED_CORPUS / citation.source).read_text(encoding="utf-8")
    assert context.text == text[context.start : context.end]
    assert context.start <= citation.start < citation.end <= context.end
    assert context.end - context.start > citation.end - citation.start  # more than the quote
    assert (context.title, context.section) == (citation.title, citation.section)
    assert citation.section not in context.text  # paragraphs of one section, not its heading


def test_excerpt_refuses_a_changed_or_missing_file(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(SEED_CORPUS, corpus)
    text = (corpus / "denervation.txt").read_text(encoding="utf-8")
    start = text.index("Denervation is the loss")
    end = text.index(".", start) + 1
    assert excerpt(corpus, "denervation.txt", start, end, text[start:end]).section == ""
    (corpus / "denervation.txt").write_text("Changed\n\n" + text, encoding="utf-8")
    with pytest.raises(ValueError, match="qa build"):
        excerpt(corpus, "denervation.txt", start, end, text[start:end])
    with pytest.raises(FileNotFoundError):
        excerpt(corpus, "gone.txt", 0, 5)
    (tmp_path / "outside.txt").write_text("Outside\n\nNot part of the corpus.\n", "utf-8")
    with pytest.raises(FileNotFoundError):
        excerpt(corpus, "../outside.txt", 9, 15)


def test_answer_html_links_every_citation_and_escapes_text(bot: Chatbot) -> None:
    answer = bot.fork().ask("What is denervation?")
    shown = render.answer_html(answer, turn=3)
    for citation in answer.citations:
        assert shown.count(f'href="#qa-cite-3-{citation.n}"') == 2  # in the text and the list
    assert "\n" not in shown  # one raw HTML block: the chat's Markdown leaves it alone
    assert render.parse_cite("#qa-cite-3-2") == (3, 2)
    assert render.parse_cite("javascript:alert(1)") is None
    question = render.question_html('<img src=x onerror=alert(1)> & "x"\nnext')
    assert "<img" not in question and "&lt;img src=x onerror=alert(1)&gt;" in question


def test_session_citations_open_their_source_and_stale_ones_say_so(bot: Chatbot) -> None:
    kept, messages, session, source = respond(bot, "What is denervation?", None)
    assert kept == "" and [m["role"] for m in messages] == ["user", "assistant"]
    assert source is not None and "<mark>" in source and "denervation.txt" in source
    assert "<mark>" in show_citation(session, render.cite_href(1, 1))
    assert "earlier conversation" in show_citation(session, render.cite_href(2, 1))
    assert "earlier conversation" in show_citation(None, render.cite_href(1, 1))


def test_blank_question_and_internal_failure_become_friendly_messages(bot: Chatbot) -> None:
    kept, messages, _, source = respond(bot, "  ", None)
    assert kept == "  " and source is None and len(messages) == 1
    assert "type a question" in messages[0]["content"]

    broken = Session(Chatbot(bot.retriever, bot.settings))
    broken.bot.live = None  # type: ignore[assignment]  # a real failure inside ask()
    kept, messages, _, _ = respond(bot, "What is denervation?", broken)
    assert kept == "What is denervation?"  # kept for another try
    assert render.escape(SORRY) in messages[-1]["content"]
    assert "Traceback" not in messages[-1]["content"]


def test_example_questions_are_those_the_loaded_documents_answer(
    bot: Chatbot, small_corpus: Path, tmp_path: Path
) -> None:
    """The page's example buttons ask about the default corpus: they are offered there, and
    not over a folder of other documents, where each would only be refused."""
    assert answered_examples(bot) == EXAMPLES
    other = Chatbot.from_corpus(small_corpus, tmp_path / "index")
    assert answered_examples(other) == []
