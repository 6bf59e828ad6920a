"""The Chatbot: one conversation over a shared, loaded corpus index."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from qa import conversation
from qa.cleaning import clean_question, has_words
from qa.compose import Answer, comparison, compose, courtesy
from qa.config import Settings, settings_from_env
from qa.lexicon import Lexicon
from qa.logs import Stopwatch
from qa.pages import with_pages
from qa.question import Question, analyse, pleasantries_off
from qa.refresh import LiveIndex, View, shared_live
from qa.retrieval import Passage, Retriever
from qa.scoring import Told

log = logging.getLogger(__name__)
SHARED_HEAD_PASSAGES = 3  # passages searched for the phrase a compared thing may share


def shared_retriever(settings: Settings, rebuild: bool = False) -> Retriever:
    """The process-wide Retriever for these settings (loaded once, refreshed when files
    changed: see qa.refresh)."""
    return shared_live(settings, rebuild).view.retriever


QUESTION_SLACK = 4  # raw input may be this many times the limit before cleaning shortens it


def sharing_head(things: tuple[str, ...], view: View) -> tuple[str, ...]:
    """The things compared as the documents name them: 'chemical and surgical neurolysis'
    compares chemical neurolysis with surgical neurolysis, so a one-word first thing takes
    the words after the second's first word when a passage found for it says it so (not
    'denervation and nerve damage', unless the documents say 'denervation damage')."""
    first, second = things
    rest = second.split(None, 1)[1:]
    if len(first.split()) != 1 or not rest:
        return things
    whole = f"{first} {rest[0]}"
    said = re.compile(r"\b" + r"[\s-]+".join(map(re.escape, whole.split())) + r"\b", re.I)
    found = view.retriever.retrieve(analyse(whole, view.lexicon), SHARED_HEAD_PASSAGES)
    return (whole, second) if any(said.search(p.text) for p in found) else things


def check_question(question: object, limit: int) -> str:
    """The question cleaned for searching (see qa.cleaning), or a ValueError saying what to do.

    Over-long input is refused before any work is done on it, so a pasted book is answered
    with a message at once.
    """
    if not isinstance(question, str):
        raise ValueError("The question must be text.")
    if len(question) > QUESTION_SLACK * limit:
        raise _too_long(len(question), limit)
    cleaned = clean_question(question)
    if not cleaned:
        raise ValueError("The question is empty: type a question about the documents.")
    if len(cleaned) > limit:
        raise _too_long(len(cleaned), limit)
    if not has_words(cleaned):
        raise ValueError(
            "The question has no words in it, only symbols: type a question about the documents."
        )
    return cleaned


def _too_long(length: int, limit: int) -> ValueError:
    return ValueError(
        f"The question is {length:,} characters long; the limit is {limit:,}. "
        "Ask something shorter, one question at a time."
    )


@dataclass(frozen=True)
class Turn:
    question: str
    query: str
    answer: Answer


class Chatbot:
    """Answers questions about one corpus and remembers this conversation for follow-ups.

    Chatbots made from the same settings share one loaded model and index, so a server can
    hold one Chatbot per browser session cheaply. Made by ``from_corpus``, they follow the
    corpus folder: added, changed and removed files are indexed while they run (qa.refresh).
    """

    def __init__(
        self,
        retriever: Retriever | LiveIndex,
        settings: Settings,
        lexicon: Lexicon | None = None,
    ) -> None:
        self.live = (
            retriever
            if isinstance(retriever, LiveIndex)
            else LiveIndex.fixed(retriever, settings, lexicon)
        )
        self.settings = settings
        self.history: list[Turn] = []
        self.topic: conversation.Topic | None = None
        self._lock = threading.Lock()

    @property
    def retriever(self) -> Retriever:
        """The retriever of the current index version."""
        return self.live.current().retriever

    @property
    def lexicon(self) -> Lexicon:
        return self.live.current().lexicon

    @classmethod
    def from_corpus(
        cls,
        corpus_dir: str | Path | None = None,
        index_dir: str | Path | None = None,
        settings: Settings | None = None,
        rebuild: bool = False,
    ) -> Chatbot:
        """A Chatbot over ``corpus_dir``, building or reusing the index in ``index_dir``."""
        base = settings or settings_from_env()
        if corpus_dir is not None and index_dir is None:
            index_dir = Path(corpus_dir).expanduser().resolve().parent / (
                Path(corpus_dir).name + ".index"
            )
        chosen = base.with_overrides(corpus_dir=corpus_dir, index_dir=index_dir)
        return cls(shared_live(chosen, rebuild), chosen)

    def fork(self) -> Chatbot:
        """A new conversation over the same loaded index."""
        return Chatbot(self.live, self.settings)

    def retrieve(self, question: str, k: int = 10) -> list[Passage]:
        """The ``k`` best passages for ``question``, best first (no conversation context)."""
        cleaned = check_question(question, self.settings.max_question_chars)
        view = self.live.current()
        return view.retriever.retrieve(analyse(cleaned, view.lexicon), k)

    def ask(self, question: str) -> Answer:
        """Answer ``question``, reading it in this conversation's topic (qa/conversation.py)."""
        cleaned = check_question(question, self.settings.max_question_chars)
        with self._lock:
            if not pleasantries_off(cleaned):  # 'thanks!': the topic stays where it was
                answer = courtesy(cleaned)
                self.history.append(Turn(cleaned, cleaned, answer))
                return answer
            reading, answer = self._read_and_answer(cleaned)
            sources = frozenset(c.source for c in answer.citations[:1])  # what it answered from
            said = frozenset((c.source, c.start, c.end) for c in answer.citations)
            cited = self.retriever.overlapping_text(said)
            self.topic = conversation.next_topic(
                self.topic, reading, cited, sources, said, answer.compared
            )
            self.history.append(Turn(cleaned, reading.query, answer))
            return answer

    def _read_and_answer(self, question: str) -> tuple[conversation.Reading, Answer]:
        """The reading of ``question`` in this conversation that the documents answer, and its
        answer: of a reading and its rival the more confident, a fallback only after both
        abstained; the first reading's abstention when none is answered."""
        first = conversation.read(question, self.topic)
        abstention: Answer | None = None
        for reading in conversation.readings(first):
            tried = [reading] if reading.rival is None else [reading, reading.rival]
            answered = [
                (r, self.answer(question, r.query, r.within, self._told(r), r.each)) for r in tried
            ]
            abstention = abstention or answered[0][1]
            found = [pair for pair in answered if not pair[1].abstained]
            if found:
                return max(found, key=lambda pair: pair[1].confidence)  # the first on ties
        assert abstention is not None
        return first, abstention

    def _told(self, reading: conversation.Reading) -> Told | None:
        """For a 'tell me more' reading, what the topic's answers have quoted of its subject."""
        if not reading.more or self.topic is None:
            return None
        return Told(self.topic.subject, self.topic.said)

    def answer(
        self,
        question: str,
        query: str | None = None,
        within: frozenset[str] = frozenset(),
        told: Told | None = None,
        each: tuple[tuple[str, str], ...] = (),
    ) -> Answer:
        """A stateless answer: analyse ``question`` (read as ``query`` when given), retrieve
        (only from the documents ``within`` when it names any) and compose (with ``told``,
        only from what the conversation has not been told), all on one index version. A
        comparison is answered with what the documents say of each thing compared; so is
        a question read as asked of ``each`` thing of one (thing, its question)."""
        timer = Stopwatch()
        view = self.live.current()  # one index version for the whole answer
        cleaned = check_question(question, self.settings.max_question_chars)
        if query is None and not pleasantries_off(cleaned):
            return courtesy(cleaned)
        analysed = analyse(cleaned, view.lexicon, query)
        timer.lap("analyse")
        if each:
            parts = [
                (
                    thing,
                    self._answer(
                        analyse(asked, view.lexicon),
                        view,
                        timer,
                        frozenset(),
                        None if told is None else replace(told, subject=thing),
                    ),
                )
                for thing, asked in each
            ]
            answer = comparison(analysed, parts)
        elif analysed.compared:
            parts = [
                (
                    thing,
                    self._answer(analyse(f"What is {thing}?", view.lexicon), view, timer, within),
                )
                for thing in sharing_head(analysed.compared, view)
            ]
            answer = comparison(analysed, parts)
        else:
            answer = self._answer(analysed, view, timer, within, told)
        answer = with_pages(answer, view.retriever.index.manifest)
        log.info(
            "answered",
            extra={
                "question": analysed.text[:80],
                "abstained": answer.abstained,
                "citations": len(answer.citations),
                "confidence": answer.confidence,
                **timer.fields(),
            },
        )
        return answer

    def _answer(
        self,
        question: Question,
        view: View,
        timer: Stopwatch,
        within: frozenset[str],
        told: Told | None = None,
    ) -> Answer:
        retrieval = view.retriever.search(question, self.settings.top_k, within)
        timer.lap("retrieve")
        answer = compose(
            question, retrieval, view.retriever, view.lexicon, self.settings.abstain_below, told
        )
        timer.lap("compose")
        return answer

    def reset(self) -> None:
        """Forget this conversation."""
        with self._lock:
            self.history.clear()
            self.topic = None


_default: Chatbot | None = None
_default_lock = threading.Lock()


def default_chatbot() -> Chatbot:
    """The Chatbot over the default corpus and index (QA_CORPUS, QA_INDEX), made once."""
    global _default
    with _default_lock:
        if _default is None:
            settings = settings_from_env()
            _default = Chatbot(shared_live(settings), settings)
        return _default


def ask(question: str) -> Answer:
    """Answer one question from the default corpus; thread-safe, no conversation memory."""
    return default_chatbot().answer(question)
