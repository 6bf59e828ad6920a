"""The Gradio chat page: a thin layer over qa.Chatbot, one conversation per browser session."""

from __future__ import annotations

import html
import logging
from typing import Any

from qa.chat import Chatbot
from qa.compose import Answer
from qa.config import Settings

log = logging.getLogger(__name__)

EXAMPLES = [
    "What is denervation?",
    "How fast do damaged nerves regrow?",
    "What is cryoneurolysis?",
    "Which chemicals are used for chemical neurolysis?",
]
NOTE = (
    "Answers are built only from sentences of the loaded documents, each with its source. "
    "They are not medical advice: ask a clinician about your own care."
)


def answer_html(answer: Answer) -> str:
    """The answer and its numbered sources as safe HTML (all document text escaped)."""
    body = f"<p>{html.escape(answer.text)}</p>"
    if not answer.citations:
        return body
    items = "".join(
        f"<li><b>[{c.n}]</b> {html.escape(c.label())} "
        f"<small>({html.escape(c.source)}, characters {c.start}-{c.end})</small></li>"
        for c in answer.citations
    )
    return f"{body}<p>Sources:</p><ol style='list-style:none;padding-left:0'>{items}</ol>"


def sources_html(answer: Answer) -> str:
    """Each cited sentence quoted in full with where it comes from."""
    if not answer.citations:
        return "<p><i>No sources: the documents do not answer this question.</i></p>"
    return "".join(
        f"<div class='qa-source'><b>[{c.n}] {html.escape(c.label())}</b><br>"
        f"<mark>{html.escape(c.quote)}</mark><br>"
        f"<small>{html.escape(c.source)}, characters {c.start}-{c.end}</small></div>"
        for c in answer.citations
    )


def build_app(bot: Chatbot) -> Any:
    """The Blocks app; every browser session gets its own fork of ``bot``."""
    import gradio as gr

    def respond(
        question: str, messages: list[dict[str, str]], conversation: Chatbot | None
    ) -> tuple[str, list[dict[str, str]], Chatbot, str]:
        conversation = conversation or bot.fork()
        shown = html.escape(question or "")
        try:
            answer = conversation.ask(question)
            reply, sources = answer_html(answer), sources_html(answer)
        except ValueError as error:
            reply, sources = html.escape(str(error)), ""
        except Exception:
            log.exception("failed to answer %r", question[:80])
            reply, sources = "Sorry, something went wrong while answering. Please try again.", ""
        messages = [
            *messages,
            {"role": "user", "content": shown},
            {"role": "assistant", "content": reply},
        ]
        return "", messages, conversation, sources

    def new_conversation() -> tuple[list[dict[str, str]], None, str]:
        return [], None, ""

    with gr.Blocks(title="Ask the documents") as app:
        gr.Markdown("## Ask the documents")
        gr.Markdown(NOTE, elem_id="qa-note")
        conversation = gr.State(None)
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="Conversation", elem_id="qa-chat", height=480)
                question = gr.Textbox(
                    label="Your question",
                    placeholder="Ask about the documents...",
                    elem_id="qa-question",
                )
                with gr.Row():
                    send = gr.Button("Ask", variant="primary", elem_id="qa-ask")
                    reset = gr.Button("New conversation", elem_id="qa-new")
                gr.Examples(EXAMPLES, inputs=question)
            with gr.Column(scale=2):
                sources = gr.HTML(label="Sources", elem_id="qa-sources")
        outputs = [question, chat, conversation, sources]
        send.click(respond, [question, chat, conversation], outputs, api_name="ask")
        question.submit(respond, [question, chat, conversation], outputs, api_visibility="private")
        reset.click(new_conversation, None, [chat, conversation, sources], api_visibility="private")
    return app


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Load (or build) the index, then serve the chat page until interrupted."""
    bot = Chatbot.from_corpus(settings=settings)
    app = build_app(bot)
    app.queue(default_concurrency_limit=4)
    print(f"Serving the chat on http://{host}:{port}")
    app.launch(server_name=host, server_port=port, show_error=False)
