"""HTML for the chat page: questions, answers with citation links, the source view, corpus info.

Every piece of user or document text goes through ``html.escape`` here and nowhere else, so
markup in a question or a document is always shown as text. Chat messages are single-line
HTML blocks: the chat's Markdown renderer leaves a raw HTML block (no blank line) untouched.
"""

from __future__ import annotations

import html
import re
from typing import Any

from qa.compose import Answer, Citation
from qa.documents import Excerpt
from ui.page_image import PageImage

_MARKER = re.compile(r"\[(\d+)\]")


def escape(text: str) -> str:
    """Text as HTML that shows exactly that text (line breaks kept)."""
    return html.escape(text).replace("\n", "<br>")


def cite_href(turn: int, n: int) -> str:
    """The fragment a citation link carries; the page script reads turn and number from it."""
    return f"#qa-cite-{turn}-{n}"


def parse_cite(value: object) -> tuple[int, int] | None:
    """(turn, citation number) from a citation link's fragment, None when it is not one."""
    match = re.fullmatch(r"#?qa-cite-(\d+)-(\d+)", str(value))
    return (int(match[1]), int(match[2])) if match else None


def _link(turn: int, citation: Citation, text: str) -> str:
    return (
        f'<a class="qa-cite" href="{cite_href(turn, citation.n)}" '
        f'title="Show source {citation.n} in its document">{text}</a>'
    )


def question_html(question: str) -> str:
    """A user's question, as text."""
    return f'<div class="qa-question">{escape(question)}</div>'


def answer_html(answer: Answer, turn: int) -> str:
    """The answer with each [n] marker a link, how a follow-up was read, and its source list."""
    cited = {c.n: c for c in answer.citations}

    def link(match: re.Match[str]) -> str:
        citation = cited.get(int(match[1]))
        return _link(turn, citation, match[0]) if citation else match[0]

    parts = [f"<p>{_MARKER.sub(link, escape(answer.text))}</p>"]
    if answer.query and answer.query != answer.question:
        parts.append(f'<p class="qa-read-as">Read as: \u201c{escape(answer.query)}\u201d</p>')
    if answer.citations:
        places: dict[tuple[str, str], list[Citation]] = {}
        for c in answer.citations:  # one line per place, listing every number citing it
            places.setdefault((c.source, c.label()), []).append(c)
        items = "".join(
            f"<li>{' '.join(_link(turn, c, f'[{c.n}]') for c in group)} {escape(label)} "
            f'<span class="qa-file">{escape(source)}{_pages(group)}</span></li>'
            for (source, label), group in places.items()
        )
        parts.append('<p class="qa-sources-head">Sources (click to read in context):</p>')
        parts.append(f'<ol class="qa-sources">{items}</ol>')
    kind = "qa-answer" if answer.citations else "qa-answer qa-abstained"
    return f'<div class="{kind}">{"".join(parts)}</div>'


def _pages(citations: list[Citation]) -> str:
    """', p. 3' or ', pp. 3, 5' for citations of a paged document; '' otherwise."""
    pages = sorted({c.page for c in citations if c.page is not None})
    if not pages:
        return ""
    return f", p. {pages[0]}" if len(pages) == 1 else f", pp. {', '.join(map(str, pages))}"


def notice_html(text: str) -> str:
    """A friendly message in the chat (an empty question, a failure)."""
    return f'<div class="qa-answer qa-notice"><p>{escape(text)}</p></div>'


def source_html(
    citation: Citation,
    turn: int,
    context: Excerpt | None,
    problem: str = "",
    page: PageImage | None = None,
) -> str:
    """The cited passage in its document context with the quoted span highlighted, and for a
    PDF the page itself with the quoted lines marked.

    Without ``context`` (file gone or changed) the quoted sentence is shown alone, with
    ``problem`` saying why.
    """
    if context is None:
        before, after = "", ""
    else:
        before = context.text[: citation.start - context.start]
        after = context.text[citation.end - context.start :]
    section = (
        f'<p class="qa-section">Section: {escape(citation.section)}</p>'
        if (citation.section)
        else ""
    )
    warning = f'<p class="qa-problem">{escape(problem)}</p>' if problem else ""
    where = "" if citation.page is None else f"p. {citation.page}, "
    figure = ""
    if page is not None:
        alt = f"Page {page.page} of {citation.source}, the quoted lines highlighted"
        figure = (
            f'<figure class="qa-page"><img src="{html.escape(page.url)}" alt="{escape(alt)}">'
            f"<figcaption>Page {page.page} of {page.pages}"
            f"{'' if page.boxes else ' (the quote could not be placed on it)'}"
            "</figcaption></figure>"
        )
    return (
        f'<div class="qa-source" data-cite="{cite_href(turn, citation.n)}">'
        f'<p class="qa-source-n">Source [{citation.n}]</p>'
        f'<h3 class="qa-title">{escape(citation.title)}</h3>{section}'
        f'<p class="qa-file">{escape(citation.source)}, {where}characters '
        f"{citation.start}-{citation.end}</p>{warning}"
        f'<div class="qa-context">{escape(before)}<mark>{escape(citation.quote)}</mark>'
        f"{escape(after)}</div>{figure}</div>"
    )


def placeholder_html(text: str) -> str:
    """The source panel before any citation is chosen, or for an answer without sources."""
    return f'<div class="qa-source qa-empty"><p>{escape(text)}</p></div>'


def corpus_html(manifest: dict[str, Any], titles: dict[str, str]) -> str:
    """The loaded corpus in a few lines: documents (by title), passages, model, build time,
    and the files that could not be read, with the reason."""
    documents = "".join(
        f"<li>{escape(title)} <span class='qa-file'>{escape(source)}</span></li>"
        for source, title in sorted(titles.items())
    )
    skipped = "".join(
        f"<li><span class='qa-file'>{escape(source)}</span>: {escape(entry['skipped'])}</li>"
        for source, entry in sorted(manifest.get("files", {}).items())
        if entry.get("skipped")
    )
    if skipped:
        skipped = f"<p class='qa-file'>Not read:</p><ul class='qa-skipped'>{skipped}</ul>"
    count, passages = len(manifest.get("files", {})), int(manifest.get("n_chunks", 0))
    return (
        '<div class="qa-corpus">'
        f"<p><b>{count}</b> document{'' if count == 1 else 's'}, "
        f"<b>{passages}</b> passage{'' if passages == 1 else 's'}, "
        f"model <code>{escape(str(manifest.get('model', '?')))}</code></p>"
        f"<ul>{documents}</ul>{skipped}"
        f"<p class='qa-file'>Index built {escape(str(manifest.get('built_at', '?')))}</p></div>"
    )


def upload_html(lines: list[tuple[bool, str]]) -> str:
    """What became of each uploaded file: added (True) or refused (False), with why."""
    items = "".join(
        f"<li class='{'qa-added' if ok else 'qa-problem'}'>{escape(text)}</li>"
        for ok, text in lines
    )
    return f'<ul class="qa-uploads">{items}</ul>' if items else ""
