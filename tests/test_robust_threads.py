"""Many threads at once: qa.ask and shared Chatbots give the answers they give serially."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from qa import Chatbot, ask

QUESTIONS = [
    "What is denervation?",
    "Which chemicals are used for chemical neurolysis?",
    "What is the capital of France?",
    "How is denervation diagnosed?",
    "What is cryoneurolysis?",
    "What is a celiac plexus block used for?",
]


def test_ask_from_many_threads_matches_serial_answers() -> None:
    serial = {question: ask(question).to_dict() for question in QUESTIONS}
    asked = QUESTIONS * 4
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, asked, timeout=600))
    assert [a.to_dict() for a in answers] == [serial[q] for q in asked]


def test_conversations_in_parallel_keep_their_own_follow_ups(bot: Chatbot) -> None:
    topics = {
        "What is cryoneurolysis?": "neurolysis.txt",
        "What is denervation?": "denervation.txt",
    }

    def converse(opening: str) -> tuple[str, str, str]:
        chat = bot.fork()
        chat.ask(opening)
        follow = chat.ask("How is it done?")
        return opening, follow.query, follow.citations[0].source if follow.citations else ""

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(converse, list(topics) * 6, timeout=600))
    for opening, query, source in results:
        subject = opening.removeprefix("What is ").rstrip("?")
        assert subject in query.lower()
        assert source == topics[opening]


def test_one_chatbot_shared_by_threads_records_every_turn(bot: Chatbot) -> None:
    chat = bot.fork()
    with ThreadPoolExecutor(6) as pool:
        list(pool.map(chat.ask, QUESTIONS, timeout=600))
    assert sorted(turn.question for turn in chat.history) == sorted(QUESTIONS)
