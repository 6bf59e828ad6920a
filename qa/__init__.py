"""Question answering over your own documents, with exact citations.

    from qa import ask, Chatbot
    answer = ask("What is denervation?")
    print(answer.formatted())

Importing this package loads nothing heavy: the public names are imported on first use (PEP 562),
so `qa.config`, `qa.canned` or the pytest plugin can be imported without numpy, and torch,
sentence-transformers, FAISS and Gradio are imported only when first needed.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qa.chat import Chatbot, ask
    from qa.compose import Answer, Citation
    from qa.config import Settings
    from qa.retrieval import Passage

__all__ = ["Answer", "Chatbot", "Citation", "Passage", "Settings", "ask"]
__version__ = "0.1.0"

_HOMES = {
    "Answer": "qa.compose",
    "Chatbot": "qa.chat",
    "Citation": "qa.compose",
    "Passage": "qa.retrieval",
    "Settings": "qa.config",
    "ask": "qa.chat",
}


def __getattr__(name: str) -> object:
    """Import a public name from its module the first time it is used."""
    if name not in _HOMES:
        raise AttributeError(f"module 'qa' has no attribute {name!r}")
    value = getattr(import_module(_HOMES[name]), name)
    globals()[name] = value
    return value
