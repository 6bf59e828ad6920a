"""Question answering over your own documents, with exact citations.

    from qa import ask, Chatbot
    answer = ask("What is denervation?")
    print(answer.formatted())

Heavy libraries (torch, sentence-transformers, FAISS, Gradio) are imported only when first
needed, so importing this package is quick.
"""

from qa.chat import Chatbot, ask
from qa.compose import Answer, Citation
from qa.config import Settings
from qa.retrieval import Passage

__all__ = ["Answer", "Chatbot", "Citation", "Passage", "Settings", "ask"]
__version__ = "0.1.0"
