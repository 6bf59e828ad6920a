"""The chat page in a real browser: Debian's chromium driven by Playwright, real model and index.

Each server is started in-process on a free port. A Gradio page never reaches "network idle",
so the tests wait for elements. Without chromium the browser tests skip locally and FAIL in CI
(when CI is set).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from qa.chat import Chatbot
from qa.config import PROJECT_ROOT, Settings
from ui.app import SEED_NOTICE, default_notice, launch

CHROMIUM = os.environ.get("QA_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MARKUP = "<img src=x onerror=alert(1)>"
TIMEOUT_MS = 30_000

# Gradio's queue trips pandas deprecation warnings on every event; they are not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::Warning:gradio.queueing")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(bot: Chatbot, notice: str = "") -> Iterator[str]:
    app, url = launch(bot, "127.0.0.1", free_port(), block=False, notice=notice)
    try:
        yield url
    finally:
        app.close()


@pytest.fixture(scope="module")
def seed_url(bot: Chatbot) -> Iterator[str]:
    """The chat page over the seed corpus, as `qa serve` shows it over the default folder."""
    yield from serve(bot, SEED_NOTICE)


@pytest.fixture(scope="module")
def markup_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The chat page over one document full of markup (title, heading and text)."""
    base = tmp_path_factory.mktemp("markup")
    corpus = base / "corpus"
    corpus.mkdir()
    (corpus / "widgets.md").write_text(
        "# Widget care <b>guide</b>\n\n## Cleaning <script>window.qaPwned = 1</script>\n\n"
        'The frobnicator <img src=x onerror="window.qaPwned=1;alert(1)"> cleans the widgets '
        "every Tuesday morning.\n\nWidgets are stored in a dry cupboard away from sunlight.\n",
        encoding="utf-8",
    )
    settings = Settings().with_overrides(corpus_dir=corpus, index_dir=base / "index")
    yield from serve(Chatbot.from_corpus(settings=settings))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium; missing, it fails the browser tests in CI and skips them elsewhere."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install chromium (or set QA_CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


class ChatPage:
    """One browser session on the chat page, with the few actions a person takes."""

    def __init__(self, browser: Browser, url: str) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.dialogs: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.goto(url)
        self.page.wait_for_selector("#qa-question textarea")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def answers(self) -> list[str]:
        return [text.strip() for text in self.page.locator("#qa-chat .qa-answer").all_inner_texts()]

    def questions(self) -> list[str]:
        return [t.strip() for t in self.page.locator("#qa-chat .qa-question").all_inner_texts()]

    def ask(self, question: str, how: str = "button") -> str:
        """Type ``question``, send it (Ask button or Enter) and return the new answer's text."""
        before = len(self.answers())
        self.page.fill("#qa-question textarea", question)
        if how == "enter":
            self.page.press("#qa-question textarea", "Enter")
        else:
            self.page.click("#qa-ask")
        return self.wait_for_answer(before)

    def wait_for_answer(self, before: int) -> str:
        self.page.wait_for_function(
            f"document.querySelectorAll('#qa-chat .qa-answer').length > {before}"
        )
        return self.answers()[-1]

    def source(self) -> str:
        return self.page.locator("#qa-source").inner_text()

    def click_citation(self, answer: int, n: int) -> str:
        """Click citation [n] in the text of answer number ``answer`` (0-based); panel text."""
        links = self.page.locator("#qa-chat .qa-answer").nth(answer).locator("a.qa-cite")
        link = links.filter(has_text=f"[{n}]").first
        cite = link.get_attribute("href")
        link.click()
        self.page.wait_for_selector(f'#qa-source .qa-source[data-cite="{cite}"]')
        return self.source()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def chat(browser: Browser, seed_url: str) -> Iterator[ChatPage]:
    page = ChatPage(browser, seed_url)
    yield page
    assert page.dialogs == []
    page.close()


def test_answer_shows_citations_and_each_opens_its_passage_in_context(chat: ChatPage) -> None:
    first = chat.ask("What is denervation?", how="enter")
    assert "loss of nerve supply" in first
    assert re.search(r"\[1\]", first) and "denervation.txt" in first
    assert chat.page.locator("#qa-chat .qa-answer").first.locator("a.qa-cite").count() >= 2
    assert "denervation.txt" in chat.source()  # the first source is shown at once

    example = "Which chemicals are used for chemical neurolysis?"
    chat.page.get_by_role("button", name=example).click()
    second = chat.wait_for_answer(1)
    assert "phenol" in second.lower()
    assert "neurolysis.txt" in chat.source()

    panel = chat.click_citation(0, 1)  # back to the first answer's first source
    assert "Denervation: Causes, Consequences, and Treatments" in panel
    assert "denervation.txt" in panel
    highlighted = chat.page.locator("#qa-source mark").inner_text()
    assert "loss of nerve supply" in highlighted
    assert highlighted in first  # the highlighted span is the quoted sentence
    file_text = (PROJECT_ROOT / "corpus" / "denervation.txt").read_text(encoding="utf-8")
    assert highlighted in file_text
    # shown inside its surrounding paragraph: the whole paragraph, not only the quote
    paragraph = next(p for p in file_text.split("\n\n") if highlighted in p)
    assert len(paragraph) > len(highlighted)
    assert " ".join(paragraph.split()) in " ".join(panel.split())

    panel = chat.click_citation(1, 1)  # the second answer's source, from the first's
    assert "neurolysis.txt" in panel and "Section:" in panel


def test_follow_up_then_new_conversation_forgets_it(chat: ChatPage) -> None:
    chat.ask("What is cryoneurolysis?")
    follow = chat.ask("How is it performed?")
    assert any(word in follow.lower() for word in ("cryo", "cold", "freez"))
    assert re.search(r"Read as: .*cryoneurolysis", follow, re.I)
    assert "neurolysis.txt" in chat.source()

    chat.page.click("#qa-new")
    chat.page.wait_for_function("!document.querySelector('#qa-chat .qa-answer')")
    assert chat.questions() == []
    assert "click a citation" in chat.source()
    fresh = chat.ask("How is it performed?")
    assert chat.questions() == ["How is it performed?"]
    assert "Read as" not in fresh  # no earlier turn to read it against


def test_blank_question_gets_a_friendly_message(chat: ChatPage) -> None:
    reply = chat.ask("   ")
    assert "empty" in reply and "type a question" in reply
    assert "Traceback" not in chat.page.content()
    assert "loss of nerve supply" in chat.ask("What is denervation?")


def test_sessions_do_not_see_each_other(browser: Browser, seed_url: str) -> None:
    alice, bob = ChatPage(browser, seed_url), ChatPage(browser, seed_url)
    try:
        alice.ask("What is cryoneurolysis?")
        bob_reply = bob.ask("How is it performed?")  # no earlier turn in Bob's conversation
        assert bob.questions() == ["How is it performed?"]
        assert "Read as" not in bob_reply
        alice_reply = alice.ask("How is it performed?")
        assert re.search(r"Read as: .*cryoneurolysis", alice_reply, re.I)
        assert alice.questions() == ["What is cryoneurolysis?", "How is it performed?"]
        assert len(bob.answers()) == 1
    finally:
        alice.close()
        bob.close()


def test_markup_in_questions_and_documents_is_shown_as_text(
    browser: Browser, markup_url: str
) -> None:
    chat = ChatPage(browser, markup_url)
    try:
        reply = chat.ask(f"When does the frobnicator clean the widgets? {MARKUP}")
        assert "Tuesday" in reply
        assert '<img src=x onerror="window.qaPwned=1;alert(1)">' in reply
        assert chat.questions() == [f"When does the frobnicator clean the widgets? {MARKUP}"]
        panel = chat.click_citation(0, 1)
        assert "Widget care <b>guide</b>" in panel
        assert "Cleaning <script>window.qaPwned = 1</script>" in panel
        assert "<img src=x" in chat.page.locator("#qa-source mark").inner_text()
        assert "Widget care <b>guide</b>" in chat.page.locator("#qa-corpus").inner_text()
        chat.page.wait_for_timeout(500)  # give an injected handler the chance to fire
        assert chat.dialogs == []
        assert chat.page.evaluate("window.qaPwned === undefined")
        assert chat.page.locator("img[src='x']").count() == 0
        assert chat.page.locator("#qa-chat script, #qa-source script").count() == 0
    finally:
        chat.close()


def test_corpus_panel_and_note(chat: ChatPage, bot: Chatbot) -> None:
    info = chat.page.locator("#qa-corpus").inner_text()
    manifest = bot.retriever.index.manifest
    assert f"{len(manifest['files'])} documents" in info
    assert f"{manifest['n_chunks']} passages" in info
    assert manifest["model"] in info
    assert "What Is Neurolysis and How Is the Procedure Performed?" in info
    note = chat.page.locator("#qa-note").inner_text()
    assert "only from the loaded documents" in note and "not medical advice" in note


def test_a_page_over_other_documents_gives_no_medical_notice(
    browser: Browser, markup_url: str
) -> None:
    chat = ChatPage(browser, markup_url)  # widget care: a clinic's caution would be out of place
    try:
        note = chat.page.locator("#qa-note").inner_text()
        assert "only from the loaded documents" in note and "medical" not in note
    finally:
        chat.close()


def test_the_notice_is_the_default_corpus_own(tmp_path: Path) -> None:
    assert default_notice(Settings()) == SEED_NOTICE
    assert default_notice(Settings().with_overrides(corpus_dir=tmp_path)) == ""


def test_readme_gradio_client_example_works(seed_url: str, capsys: pytest.CaptureFixture) -> None:
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Browser chat", 1)[1]
    example = re.search(r"```python\n(.*?)```", section, re.S)
    assert example, "README's Browser chat section has no python example"
    assert "http://127.0.0.1:7860/" in example[1]
    exec(example[1].replace("http://127.0.0.1:7860/", seed_url), {})
    printed = capsys.readouterr().out
    assert "loss of nerve supply" in printed and "denervation.txt" in printed
    assert "cryoneurolysis" in printed.lower()


def test_api_keeps_a_conversation_per_client_and_reports_errors(seed_url: str) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    first, second = Client(seed_url, verbose=False), Client(seed_url, verbose=False)
    answer = first.predict("What is cryoneurolysis?", api_name="/ask")
    assert answer["citations"][0]["source"] == "neurolysis.txt" and not answer["abstained"]
    citation = answer["citations"][0]
    file_text = (PROJECT_ROOT / "corpus" / citation["source"]).read_text(encoding="utf-8")
    assert file_text[citation["start"] : citation["end"]] == citation["quote"]
    assert "cryoneurolysis" in first.predict("How is it performed?", api_name="/ask")["query"]
    assert "cryoneurolysis" not in second.predict("How is it performed?", api_name="/ask")["query"]
    assert second.predict("What is the capital of France?", api_name="/ask")["abstained"]
    with pytest.raises(AppError, match="empty"):
        first.predict("   ", api_name="/ask")


FORMATS = PROJECT_ROOT / "tests" / "fixtures" / "formats"
# The README's screenshot; written by this test when QA_UPDATE_SCREENSHOTS=1 (else to a
# temporary folder, so that running the tests leaves the work tree as it was).
SCREENSHOT = PROJECT_ROOT / "docs" / "pdf-source.png"


@pytest.fixture(scope="module")
def live_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The chat page with uploads on, over a folder holding one text article at first."""
    base = tmp_path_factory.mktemp("live")
    corpus = base / "corpus"
    corpus.mkdir()
    shutil.copy(PROJECT_ROOT / "corpus" / "neurolysis.txt", corpus)
    settings = Settings().with_overrides(
        corpus_dir=corpus, index_dir=base / "index", refresh_seconds=1
    )
    bot = Chatbot.from_corpus(settings=settings)
    app, url = launch(bot, "127.0.0.1", free_port(), block=False, allow_upload=True)
    try:
        yield url, corpus
    finally:
        app.close()


def test_uploaded_pdf_is_answered_with_its_page_highlighted(
    browser: Browser, live_url: tuple[str, Path], tmp_path: Path
) -> None:
    url, corpus = live_url
    chat = ChatPage(browser, url)
    try:
        chat.page.set_input_files("#qa-upload-files input[type=file]", FORMATS / "denervation.pdf")
        chat.page.wait_for_selector("#qa-upload-report .qa-added", timeout=120_000)
        assert "Added denervation.pdf" in chat.page.locator("#qa-upload-report").inner_text()
        saved = (corpus / "denervation.pdf").read_bytes()
        assert saved == (FORMATS / "denervation.pdf").read_bytes()
        assert "denervation.pdf" in chat.page.locator("#qa-corpus").inner_text()

        reply = chat.ask("What happens to a muscle after it loses its nerve supply?")
        assert "atrophy" in reply and re.search(r"denervation\.pdf, pp?\. 1\b", reply)
        panel = chat.source()
        assert "denervation.pdf, p. 1, characters" in panel
        figure = chat.page.locator("#qa-source figure.qa-page")
        figure.wait_for()
        assert "Page 1 of 3" in figure.inner_text()
        assert "could not be placed" not in figure.inner_text()
        image = figure.locator("img")
        assert image.get_attribute("src").startswith("data:image/png;base64,")
        assert chat.page.evaluate("document.querySelector('#qa-source img').naturalWidth") > 800
        image.scroll_into_view_if_needed()
        chat.page.wait_for_timeout(300)
        keep = os.environ.get("QA_UPDATE_SCREENSHOTS") == "1"
        shot = SCREENSHOT if keep else tmp_path / SCREENSHOT.name
        chat.page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 50_000

        # the same file again is no new file; a hidden name or a wrong type is refused
        chat.page.set_input_files("#qa-upload-files input[type=file]", FORMATS / "denervation.pdf")
        chat.page.wait_for_function(
            "document.querySelector('#qa-upload-report').innerText.includes('Already')"
        )
    finally:
        chat.close()


def test_file_dropped_into_the_folder_is_listed_and_answered(
    browser: Browser, live_url: tuple[str, Path]
) -> None:
    url, corpus = live_url
    chat = ChatPage(browser, url)
    try:
        before = chat.ask("Which chemicals are used for chemical neurolysis?")
        assert "phenol" in before.lower()
        page = (
            "<html><head><title>Kettle care</title><script>window.qaPwned = 1</script></head>"
            "<body><nav>Home | Shop</nav><h1>Kettle Care</h1><h2>Descaling</h2>"
            "<p>A kettle is descaled with white vinegar once a month.</p></body></html>"
        )
        (corpus / ".kettles.tmp").write_text(page, encoding="utf-8")  # copied in whole
        (corpus / ".kettles.tmp").rename(corpus / "kettles.html")
        chat.page.wait_for_function(
            "document.querySelector('#qa-corpus').innerText.includes('kettles.html')",
            timeout=120_000,
        )
        reply = chat.ask("How often is a kettle descaled?")
        assert "once a month" in reply and "kettles.html" in reply
        follow = chat.ask("What is cryoneurolysis?")  # the conversation carried on
        assert "neurolysis.txt" in follow
    finally:
        chat.close()
