"""Page numbers for citations, outside the composer: a citation's start offset is looked up in
the page starts its file's index entry records (formats with pages, such as PDF)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from qa.compose import Answer
from qa.documents import page_at


def with_pages(answer: Answer, manifest: dict[str, Any]) -> Answer:
    """``answer`` with each citation's page filled in where its file has pages."""
    files = manifest.get("files", {})
    citations = [
        replace(c, page=page_at(files.get(c.source, {}).get("pages", ()), c.start))
        for c in answer.citations
    ]
    return replace(answer, citations=citations) if citations else answer
