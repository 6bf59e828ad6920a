"""Decoding the bytes of text formats: byte-order marks, UTF-8, legacy Western, a guess."""

from __future__ import annotations

import codecs
import logging

from qa.readers import Unreadable

log = logging.getLogger("qa.documents")

_BOMS = (  # longest first: a UTF-32 LE mark begins like a UTF-16 LE one
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
MAX_NON_ASCII_LETTERS = 0.2  # above this share, Windows-1252 is unlikely to be the encoding


def decode(data: bytes, name: str) -> str:
    """A text file's bytes as text; raises Unreadable when it is not text.

    Order: a byte-order mark, then UTF-8, then Windows-1252 when that reads as mostly-ASCII
    Latin text, then charset-normalizer's guess. Windows-1252 comes before the guess because
    detection is unreliable on short Western text (a French paragraph in cp1252 is guessed as
    cp1257 or mac_latin2), while legacy Western files are nearly always cp1252 or Latin-1.
    A file not in UTF-8 is named in a warning with the encoding it was read as.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                break
    if b"\x00" in data[:8192]:
        raise Unreadable("binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    text = _as_western(data)
    encoding = "cp1252"
    if text is None:
        from charset_normalizer import from_bytes

        best = from_bytes(data).best()
        if best is None:
            raise Unreadable("not text in any known encoding")
        text, encoding = str(best), best.encoding
    log.warning("%s is not UTF-8; decoded as %s (save it as UTF-8 to be sure)", name, encoding)
    return text


def _as_western(data: bytes) -> str | None:
    """``data`` as Windows-1252 when it decodes and its letters are mostly ASCII, else None."""
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return None
    letters = [char for char in text if char.isalpha()]
    foreign = sum(not char.isascii() for char in letters)
    return text if letters and foreign <= MAX_NON_ASCII_LETTERS * len(letters) else None
