"""The Gradio chat page: a thin layer over qa.Chatbot, one conversation per browser session.

Layout: the conversation (left, or on top on a phone), the cited passage in its document and the
loaded corpus (right, or below). Citation links in answers are plain ``<a>`` elements; one small
script (``bridge.js``) turns a click on one into an event of the source panel.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import gradio as gr

from qa.chat import Chatbot
from qa.compose import COURTESY, Citation
from qa.config import Settings
from qa.documents import excerpt
from qa.readers import SUFFIXES
from qa.stores.base import IndexStore
from qa.uploads import MAX_UPLOAD_BYTES, Refused, add_upload
from ui import render
from ui.page_image import PageImage, render_page

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
CSS = (HERE / "style.css").read_text(encoding="utf-8")
BRIDGE_JS = (HERE / "bridge.js").read_text(encoding="utf-8")
# Gradio scopes ``css`` inside the app, so the page's own side padding is narrowed from <head>.
HEAD = (
    "<style>@media (max-width: 640px) { .gradio-container .app { padding: 8px !important } }"
    "</style>"
)
# One answer takes tens of milliseconds of CPU and torch already spreads one query over all
# cores, so a few concurrent answers keep the page responsive; the rest wait in the queue.
CONCURRENCY = 4
QUEUE_SIZE = 200

TITLE = "Ask the documents"
# Questions on the default corpus; the page offers those the loaded documents answer.
EXAMPLES = [
    "What is denervation?",
    "How fast do damaged nerves regrow?",
    "What is cryoneurolysis?",
    "Which chemicals are used for chemical neurolysis?",
]
NOTE = "Answers are sentences quoted only from the loaded documents, each with its numbered source."
# What the page adds to NOTE over the default corpus (two medical articles) unless told
# otherwise (qa serve --notice); a folder of another kind gets its owner's notice, or none.
SEED_NOTICE = "They are not medical advice: ask a clinician about your own care."
SORRY = "Sorry, something went wrong while answering. Please try again in a moment."
PICK_SOURCE = "Ask a question, then click a citation number such as [1] to read it in context."
NO_SOURCES = "This answer has no sources: the documents do not cover the question."
GONE = "That source belongs to an earlier conversation. Ask again to see its sources."


@dataclass
class Session:
    """One browser session: its conversation and the messages shown for it."""

    bot: Chatbot
    messages: list[dict[str, str]] = field(default_factory=list)


def corpus_titles(index: IndexStore) -> dict[str, str]:
    """Document title by source file, from the index's passages."""
    return index.catalog.titles_by_source()


def corpus_panel(index: IndexStore) -> str:
    """The loaded-documents panel for ``index``."""
    return render.corpus_html(index.manifest, corpus_titles(index))


def page_of(bot: Chatbot, index: IndexStore, citation: Citation) -> PageImage:
    """The PDF page a citation stands on, its quoted lines highlighted."""
    entry = index.manifest["files"].get(citation.source, {})
    pages = entry.get("pages", [])
    if citation.page is None:
        raise ValueError(f"{citation.source} has no pages")
    # Only the part of the quote on this page is looked for on it.
    stop = pages[citation.page] if citation.page < len(pages) else citation.end
    quote = citation.quote[: max(stop - citation.start, 0)] or citation.quote
    path = (bot.settings.corpus_dir / citation.source).resolve()
    if not path.is_relative_to(bot.settings.corpus_dir.resolve()):
        raise ValueError(f"{citation.source} is not in the corpus folder")
    return render_page(path, citation.page, quote, entry.get("sha256"))


def show_citation(session: Session | None, cite: object) -> str:
    """The source panel for citation ``cite`` ('#qa-cite-<turn>-<n>' of this session)."""
    picked = render.parse_cite(cite)
    if session is None or picked is None:
        return render.placeholder_html(GONE)
    turn, n = picked
    history = session.bot.history
    citations = history[turn - 1].answer.citations if 1 <= turn <= len(history) else []
    if not 1 <= n <= len(citations):
        return render.placeholder_html(GONE)
    c = citations[n - 1]
    index = session.bot.retriever.index
    kept_name = index.manifest["files"].get(c.source, {}).get("kept")
    try:
        context = excerpt(
            session.bot.settings.corpus_dir,
            c.source,
            c.start,
            c.end,
            c.quote,
            index_dir=index.directory,
            kept_name=kept_name,
        )
    except (OSError, ValueError) as error:
        return render.source_html(c, turn, None, f"Cannot show the surrounding text: {error}")
    if c.page is None or not c.source.lower().endswith(".pdf"):
        return render.source_html(c, turn, context)
    try:
        page = page_of(session.bot, index, c)
    except (OSError, ValueError) as error:
        return render.source_html(c, turn, context, f"Cannot show the page: {error}")
    return render.source_html(c, turn, context, page=page)


def upload(bot: Chatbot, paths: list[str] | None) -> tuple[str, str]:
    """Add uploaded files to the corpus and index them now: (report, documents panel)."""
    lines: list[tuple[bool, str]] = []
    added = False
    for path in paths or []:
        name = Path(path).name
        try:
            if Path(path).stat().st_size > MAX_UPLOAD_BYTES:
                raise Refused(f"{name} is larger than the {MAX_UPLOAD_BYTES // 2**20} MB limit")
            result = add_upload(bot.settings.corpus_dir, name, Path(path).read_bytes())
        except Refused as problem:
            lines.append((False, f"Not added: {problem}"))
            continue
        added = added or result.new
        verb = "Added" if result.new else "Already in the documents:"
        lines.append((True, f"{verb} {result.name} ({result.title})"))
    if added:
        try:
            bot.live.refresh()
        except Exception as error:  # the files are saved; the next check indexes them
            log.exception("indexing uploaded files failed")
            lines.append((False, f"Saved, but not yet indexed: {error}"))
    return render.upload_html(lines), corpus_panel(bot.retriever.index)


def respond(
    bot: Chatbot, question: str | None, session: Session | None
) -> tuple[str, list[dict[str, str]], Session, str | None]:
    """Answer in this session: (new textbox text, chat messages, session, source panel)."""
    session = session or Session(bot.fork())
    question = question or ""
    if question.strip():
        session.messages.append({"role": "user", "content": render.question_html(question)})
    source: str | None = None  # None: leave the source panel as it is
    try:
        answer = session.bot.ask(question)
    except ValueError as error:
        reply, kept = render.notice_html(str(error)), question
    except Exception:
        log.exception("failed to answer %r", question[:80])
        reply, kept = render.notice_html(SORRY), question
    else:
        turn = len(session.bot.history)
        reply, kept = render.answer_html(answer, turn), ""
        if answer.citations:
            source = show_citation(session, render.cite_href(turn, 1))
        elif answer.question_type != COURTESY:  # 'thanks': the last source stays shown
            source = render.placeholder_html(NO_SOURCES)
    session.messages.append({"role": "assistant", "content": reply})
    return kept, list(session.messages), session, source


def api_ask(bot: Chatbot, question: str, session: Session | None) -> tuple[dict[str, Any], Session]:
    """The `/ask` API: the Answer as a dict; follow-ups work within one client session."""
    session = session or Session(bot.fork())
    try:
        answer = session.bot.ask(question)
    except ValueError as error:
        raise gr.Error(str(error)) from None
    except Exception:
        log.exception("API failed to answer %r", str(question)[:80])
        raise gr.Error(SORRY) from None
    return answer.to_dict(), session


def answered_examples(bot: Chatbot) -> list[str]:
    """The example questions that the loaded documents answer: a folder of other documents
    gets no buttons that would only say "I could not find an answer"."""
    return [text for text in EXAMPLES if not bot.answer(text).abstained]


def build_app(bot: Chatbot, allow_upload: bool = False, notice: str = "") -> gr.Blocks:
    """The Blocks app; every browser session gets its own fork of ``bot``.

    The loaded-documents panel follows the corpus folder (checked every
    ``refresh_seconds``); ``allow_upload`` adds a box that adds files to it; ``notice`` is
    said after the page's note (what the answers are not, in the documents' field).
    """

    def on_respond(
        question: str, session: Session | None
    ) -> tuple[str, list[dict[str, str]], Session, Any]:
        kept, messages, session, source = respond(bot, question, session)
        return kept, messages, session, gr.skip() if source is None else source

    def on_citation(session: Session | None, event: gr.EventData) -> str:
        return show_citation(session, getattr(event, "cite", None))

    def on_new() -> tuple[list[dict[str, str]], None, str, str]:
        return [], None, render.placeholder_html(PICK_SOURCE), ""

    def on_tick(shown: str | None) -> tuple[Any, str]:
        index = bot.live.current().retriever.index  # starts a folder check when due
        version = str(index.manifest.get("built_at")) + str(index.manifest.get("n_chunks"))
        version += str(sorted(index.manifest.get("files", {})))
        if version == shown:
            return gr.skip(), version
        return corpus_panel(index), version

    with gr.Blocks(title=TITLE) as app:
        session = gr.State(None)
        with gr.Column(elem_id="qa-header"):
            gr.HTML(f"<h1>{TITLE}</h1>", elem_id="qa-title", js_on_load=None)
            gr.HTML(
                f'<p class="qa-note">{render.escape(" ".join(filter(None, [NOTE, notice])))}</p>',
                elem_id="qa-note",
                js_on_load=None,
            )
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=320):
                chat = gr.Chatbot(
                    label="Conversation",
                    show_label=False,
                    elem_id="qa-chat",
                    height=520,
                    latex_delimiters=[],
                    feedback_options=None,
                    buttons=[],
                    placeholder=(
                        "<b>Ask a question about the loaded documents.</b><br>"
                        "Answers quote the documents; click a number like [1] to see where."
                    ),
                )
                with gr.Row(elem_id="qa-input-row"):
                    question = gr.Textbox(
                        show_label=False,
                        placeholder="Ask about the documents...",
                        elem_id="qa-question",
                        scale=5,
                        min_width=180,
                        max_lines=6,
                        autofocus=True,
                    )
                    send = gr.Button(
                        "Ask", variant="primary", elem_id="qa-ask", scale=1, min_width=80
                    )
                offered = answered_examples(bot)
                with gr.Column(elem_id="qa-examples", visible=bool(offered)):
                    gr.HTML('<p class="qa-try">Example questions</p>', js_on_load=None)
                    with gr.Row():
                        examples = [
                            gr.Button(
                                text,
                                size="sm",
                                variant="secondary",
                                elem_classes="qa-example",
                                min_width=0,
                                scale=0,
                            )
                            for text in offered
                        ]
                reset = gr.Button(
                    "New conversation", elem_id="qa-new", size="sm", variant="secondary"
                )
            with gr.Column(scale=2, min_width=300, elem_id="qa-side"):
                source = gr.HTML(
                    render.placeholder_html(PICK_SOURCE),
                    elem_id="qa-source",
                    js_on_load=BRIDGE_JS,
                    label="Source",
                    container=True,
                    padding=True,
                )
                with gr.Accordion("Loaded documents", open=True, elem_id="qa-corpus"):
                    corpus = gr.HTML(corpus_panel(bot.retriever.index), js_on_load=None)
                if allow_upload:
                    with gr.Accordion("Add documents", open=True, elem_id="qa-upload"):
                        files = gr.File(
                            label=f"PDF, Word, web page or text files, up to "
                            f"{MAX_UPLOAD_BYTES // 2**20} MB each",
                            file_count="multiple",
                            file_types=sorted(SUFFIXES),
                            elem_id="qa-upload-files",
                        )
                        report = gr.HTML("", elem_id="qa-upload-report", js_on_load=None)
        shown = gr.State(None)
        if bot.settings.refresh_seconds > 0:
            timer = gr.Timer(bot.settings.refresh_seconds)
            timer.tick(
                on_tick,
                [shown],
                [corpus, shown],
                show_progress="hidden",
                concurrency_limit=None,
                api_visibility="private",
            )
        # The API hangs off a hidden button rather than gr.api() so that it can carry the
        # session State: calls from one gradio_client Client form one conversation.
        api_question = gr.Textbox(label="question", visible=False)
        api_answer = gr.JSON(label="answer", visible=False)
        api_button = gr.Button(visible=False)

        outputs = [question, chat, session, source]
        private: dict[str, Any] = {"api_visibility": "private"}
        send.click(on_respond, [question, session], outputs, **private)
        question.submit(on_respond, [question, session], outputs, **private)
        for button, text in zip(examples, offered, strict=True):
            button.click(partial(on_respond, text), [session], outputs, **private)
        reset.click(on_new, None, [chat, session, source, question], **private)
        chat.clear(on_new, None, [chat, session, source, question], **private)
        source.click(on_citation, [session], [source], **private)
        if allow_upload:
            files.upload(partial(upload, bot), [files], [report, corpus], **private).then(
                lambda: None, None, [files], **private
            )
        api_button.click(
            partial(api_ask, bot),
            [api_question, session],
            [api_answer, session],
            api_name="ask",
            api_description="Answer a question from the loaded documents; returns the Answer "
            "as a dict (text, citations, abstained). Follow-ups use the client's session.",
        )
    return app


def launch(
    bot: Chatbot,
    host: str = "127.0.0.1",
    port: int = 7860,
    block: bool = True,
    allow_upload: bool = False,
    auth: tuple[str, str] | None = None,
    notice: str = "",
) -> tuple[gr.Blocks, str]:
    """Serve the chat page for ``bot``; with ``block=False`` return (app, url) at once.

    ``auth`` (user, password) makes the page ask for them; ``allow_upload`` adds uploads;
    ``notice`` follows the page's note.
    """
    app = build_app(bot, allow_upload, notice)
    app.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_SIZE)
    _, url, _ = app.launch(
        auth=auth,
        max_file_size=MAX_UPLOAD_BYTES if allow_upload else None,
        server_name=host,
        server_port=port,
        show_error=False,
        prevent_thread_lock=not block,
        quiet=not block,
        ssr_mode=False,
        footer_links=["api"],
        theme=gr.themes.Soft(primary_hue="teal", secondary_hue="slate"),
        css=CSS,
        head=HEAD,
    )
    return app, url


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 7860,
    allow_upload: bool = False,
    auth: tuple[str, str] | None = None,
    notice: str | None = None,
) -> None:
    """Load (or build) the index, then serve the chat page until interrupted; ``notice``
    (default: SEED_NOTICE over the default corpus, else none) follows the page's note."""
    bot = Chatbot.from_corpus(settings=settings)
    print(f"Serving the chat on http://{host}:{port}")
    notice = default_notice(settings) if notice is None else notice
    launch(bot, host, port, allow_upload=allow_upload, auth=auth, notice=notice)


def default_notice(settings: Settings) -> str:
    """SEED_NOTICE over the default corpus folder; nothing over any other."""
    return SEED_NOTICE if settings.corpus_dir.resolve() == Settings().corpus_dir.resolve() else ""
