"""Uploaded files: checked (name, type, content, size, readability), never overwriting, saved
whole, and answerable at once; `qa serve --allow-upload` needs --auth off this machine."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa import uploads
from qa.chat import Chatbot
from qa.cli import main
from qa.config import Settings
from qa.uploads import Refused, add_upload, clean_name
from tests.made_files import FORMATS, handbook_pdf, zip_bomb_docx
from ui.app import upload

PDF = (FORMATS / "denervation.pdf").read_bytes()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../escape.pdf", "not a plain file name"),
        ("sub/dir.pdf", "not a plain file name"),
        ("..\\windows.pdf", "not a plain file name"),
        (".hidden.pdf", "hidden name"),
        ("..", "hidden name"),
        ("bell\x07.pdf", "control or invisible characters"),
        ("rtl\u202etxt.pdf", "control or invisible characters"),
        ("program.exe", "not a type the corpus reads"),
        ("noextension", "not a type the corpus reads"),
        ("x" * 200 + ".pdf", "longer than"),
    ],
)
def test_unsafe_or_unknown_names_are_refused(name: str, reason: str) -> None:
    with pytest.raises(Refused, match=reason):
        clean_name(name)


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("notes.txt", PDF, "does not contain what its name says"),
        ("report.pdf", b"just some text, not a PDF at all", "does not contain what its name says"),
        ("letter.docx", b"plain text pretending", "does not contain what its name says"),
        ("page.html", b"no markup here", "does not contain what its name says"),
        ("empty.txt", b"", "is empty"),
        ("locked.pdf", handbook_pdf(encrypt="pw"), "cannot be used: encrypted PDF"),
        ("bomb.docx", zip_bomb_docx(), "cannot be used: word/document.xml is compressed"),
    ],
)
def test_wrong_content_and_unreadable_files_are_refused(
    tmp_path: Path, name: str, data: bytes, reason: str
) -> None:
    with pytest.raises(Refused, match=reason):
        add_upload(tmp_path, name, data)
    assert list(tmp_path.iterdir()) == []  # nothing saved, no temporary file left


def test_size_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 1000)
    with pytest.raises(Refused, match="larger than the 0 MB limit"):
        add_upload(tmp_path, "big.pdf", PDF)


def test_existing_names_are_never_overwritten(tmp_path: Path) -> None:
    added = add_upload(tmp_path, "article.pdf", PDF)
    assert added.new and added.title.startswith("Denervation")
    assert (tmp_path / "article.pdf").read_bytes() == PDF
    again = add_upload(tmp_path, "article.pdf", PDF)  # the same file: nothing to do
    assert not again.new
    other = (FORMATS / "neurolysis.pdf").read_bytes()
    with pytest.raises(Refused, match="a different file named article.pdf is already"):
        add_upload(tmp_path, "article.pdf", other)
    assert (tmp_path / "article.pdf").read_bytes() == PDF
    assert sorted(p.name for p in tmp_path.iterdir()) == ["article.pdf"]


def test_upload_handler_saves_indexes_and_reports(tmp_path: Path) -> None:
    corpus = tmp_path / "docs"
    corpus.mkdir()
    shutil.copy(FORMATS / "neurolysis.html", corpus)
    bot = Chatbot.from_corpus(
        settings=Settings().with_overrides(
            corpus_dir=corpus, index_dir=tmp_path / "index", refresh_seconds=0
        )
    )
    incoming = tmp_path / "incoming"
    incoming.mkdir()
    shutil.copy(FORMATS / "denervation.docx", incoming / "nerves.docx")
    (incoming / "virus.pdf").write_bytes(b"MZ\x90\x00 not a pdf")
    report, panel = upload(bot, [str(incoming / "nerves.docx"), str(incoming / "virus.pdf")])
    assert "Added nerves.docx (Denervation: Causes, Consequences, and Treatments)" in report
    assert "Not added: virus.pdf does not contain what its name says" in report
    assert "nerves.docx" in panel and "virus.pdf" not in panel
    answer = bot.ask("How fast do damaged nerves regrow?")  # answerable at once
    assert "one inch per month" in answer.text and answer.citations[0].source == "nerves.docx"
    assert not (corpus / "virus.pdf").exists()


def test_serving_uploads_beyond_this_machine_needs_a_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["serve", "--allow-upload", "--host", "0.0.0.0", "--corpus", "corpus"])
    assert status == 2 and "give --auth USER:PASSWORD" in capsys.readouterr().err
    status = main(["serve", "--auth", "nopassword", "--corpus", "corpus"])
    assert status == 2 and "USER:PASSWORD" in capsys.readouterr().err
