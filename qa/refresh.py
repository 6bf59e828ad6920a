"""Keeping a running chatbot's index in step with its corpus folder.

A ``LiveIndex`` holds the current ``View`` of one corpus (its retriever and lexicon). Every
few seconds at most (``Settings.refresh_seconds``) asking for the view starts a check in the
background: the stat walk the index already does (a file is hashed only when its size or
modification time changed). When files were added, changed or removed, the index is rebuilt
incrementally (only those files are read and embedded) and the new view replaces the old one
in a single assignment. An answer takes the view once and uses only it, so it never mixes two
index versions, and conversations in progress carry on over the swap.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from qa.config import Settings
from qa.embedding import get_embedder
from qa.index import open_index
from qa.lexicon import Lexicon
from qa.retrieval import Retriever

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class View:
    """One index version and what answering needs from it."""

    retriever: Retriever
    lexicon: Lexicon

    @classmethod
    def of(cls, retriever: Retriever) -> View:
        lexicon = retriever.index.lexicon().knowing(retriever.embedder.whole_words)
        return cls(retriever, lexicon)


class LiveIndex:
    """The current index of one corpus folder, refreshed when its files change."""

    def __init__(self, settings: Settings, view: View) -> None:
        self.settings = settings
        self._view = view
        self._checked = time.monotonic()
        self._building = threading.Lock()  # one refresh at a time
        self._starting = threading.Lock()  # one background check started per interval

    @classmethod
    def open(cls, settings: Settings, rebuild: bool = False) -> LiveIndex:
        """Load (or build) the index of ``settings`` and hold it."""
        embedder = get_embedder(settings.model)
        return cls(settings, View.of(Retriever(open_index(settings, embedder, rebuild), embedder)))

    @classmethod
    def fixed(cls, retriever: Retriever, settings: Settings, lexicon: Lexicon | None) -> LiveIndex:
        """A view that is never refreshed (a Chatbot made from a Retriever directly)."""
        view = View(retriever, lexicon) if lexicon is not None else View.of(retriever)
        return cls(settings.with_overrides(refresh_seconds=0), view)

    @property
    def view(self) -> View:
        """The current view, without looking at the folder."""
        return self._view

    def current(self) -> View:
        """The current view; starts a background check when the last one is old enough."""
        interval = self.settings.refresh_seconds
        if interval > 0 and time.monotonic() - self._checked >= interval:
            with self._starting:
                if time.monotonic() - self._checked >= interval and not self._building.locked():
                    self._checked = time.monotonic()
                    threading.Thread(
                        target=self._refresh_quietly, name="qa-refresh", daemon=True
                    ).start()
        return self._view

    def refresh(self, rebuild: bool = False) -> bool:
        """Check the folder now; when it changed, build the new index and swap it in.

        Returns whether a new version was swapped in. Waits for a refresh already running.
        """
        with self._building:
            self._checked = time.monotonic()
            old = self._view.retriever
            index = open_index(self.settings, old.embedder, rebuild, loaded=old.index)
            if index is old.index:
                return False
            self._view = View.of(Retriever(index, old.embedder))
            log.info(
                "index refreshed: %d file(s), %d passages",
                len(index.manifest["files"]),
                index.manifest["n_chunks"],
            )
            return True

    def _refresh_quietly(self) -> None:
        try:
            self.refresh()
        except Exception as error:  # the previous index keeps answering
            log.warning(
                "could not refresh the index of %s (%s); answering from the previous one",
                self.settings.corpus_dir,
                error,
            )


_shared: dict[tuple[object, ...], LiveIndex] = {}
_shared_lock = threading.Lock()


def shared_live(settings: Settings, rebuild: bool = False) -> LiveIndex:
    """The process-wide LiveIndex for these settings, checked against the folder now.

    Model and index are loaded once per process; a later call (a second
    ``Chatbot.from_corpus`` of the same folder) sees files added, changed or removed since.
    """
    key = (
        settings.corpus_dir,
        settings.index_dir,
        settings.store,
        settings.model,
        *settings.chunking_key().values(),
    )
    with _shared_lock:
        live = _shared.get(key)
        if live is None:
            live = _shared[key] = LiveIndex.open(settings, rebuild)
            return live
    live.refresh(rebuild)
    return live
