"""The Chatbot: one conversation over a shared, loaded corpus index."""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from qa.compose import Answer, compose
from qa.config import Settings, settings_from_env
from qa.lexicon import Lexicon
from qa.logs import Stopwatch
from qa.pages import with_pages
from qa.questions import clean_question, has_words
from qa.refresh import LiveIndex, shared_live
from qa.retrieval import Passage, Retriever
from qa.text import content_words

log = logging.getLogger(__name__)

_PRONOUN = re.compile(r"\b(it|its|it's|this|that|they|them|their|these|those|one)\b", re.I)
_FOLLOW_UP_OPENING = re.compile(r"^(and|what about|how about|also|so|then)\b", re.I)

def shared_retriever(settings: Settings, rebuild: bool = False) -> Retriever:
    """The process-wide Retriever for these settings (loaded once, refreshed when files
    changed: see qa.refresh)."""
    return shared_live(settings, rebuild).view.retriever


QUESTION_SLACK = 4  # raw input may be this many times the limit before cleaning shortens it


def check_question(question: object, limit: int) -> str:
    """The question cleaned for searching (see qa.questions), or a ValueError saying what to do.

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
        return self.retriever.retrieve(
            check_question(question, self.settings.max_question_chars), k
        )

    def ask(self, question: str) -> Answer:
        """Answer ``question``, reading it in the light of this conversation's earlier turns."""
        cleaned = check_question(question, self.settings.max_question_chars)
        with self._lock:
            query = resolve_follow_up(cleaned, [turn.query for turn in self.history])
            answer = self.answer(cleaned, query)
            self.history.append(Turn(cleaned, query, answer))
            return answer

    def answer(self, question: str, query: str | None = None) -> Answer:
        """A stateless answer: retrieve for ``query`` (default the question) and compose."""
        timer = Stopwatch()
        question = check_question(question, self.settings.max_question_chars)
        view = self.live.current()  # one index version for the whole answer
        query = view.lexicon.correct(query or question)
        passages = view.retriever.retrieve(query, self.settings.top_k)
        timer.lap("retrieve")
        answer = compose(
            question,
            passages,
            view.retriever.embedder,
            self.settings.min_similarity,
            query,
            lexicon=view.lexicon,
        )
        answer = with_pages(answer, view.retriever.index.manifest)
        timer.lap("compose")
        log.info(
            "answered",
            extra={
                "question": question[:80],
                "abstained": answer.abstained,
                "citations": len(answer.citations),
                **timer.fields(),
            },
        )
        return answer

    def reset(self) -> None:
        """Forget this conversation."""
        with self._lock:
            self.history.clear()


_GENERIC = frozenset(
    "cause causes caused treatment treated treat performed done used use happens happen long "
    "fast last work works effect effects side risk risks safe painful help helps".split()
)


def topic_of(query: str) -> str:
    """The subject words of an earlier question, used to complete a follow-up."""
    return " ".join(w for w in content_words(query) if w not in _GENERIC)


def resolve_follow_up(question: str, earlier: list[str]) -> str:
    """Complete a follow-up ('How is it performed?') with the subject of the previous turn.

    A question is a follow-up when it opens like one ('And ...', 'What about ...') or leans
    on a pronoun while naming at most two subject words of its own.
    """
    if not earlier:
        return question
    own = [w for w in content_words(_PRONOUN.sub(" ", question)) if w not in _GENERIC]
    leaning = bool(_PRONOUN.search(question)) and len(own) <= 2
    if not (leaning or _FOLLOW_UP_OPENING.search(question) or not own):
        return question
    topic = topic_of(earlier[-1])
    if not topic or all(word in own for word in topic.split()):
        return question
    if _PRONOUN.search(question):
        return _PRONOUN.sub(topic, question, count=1)
    return f"{question} ({topic})"


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
