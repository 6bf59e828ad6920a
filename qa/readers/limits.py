"""Limits that keep reading a hostile or broken file bounded in time and memory.

Named here so that a warning can say which limit a file broke, and a test or an operator can
lower or raise one (e.g. ``qa.readers.limits.MAX_PAGES = 5000``) before an index is built.
"""

from __future__ import annotations

MAX_PAGES = 2_000  # a PDF with more pages is skipped (split it)
MAX_TEXT_CHARS = 10_000_000  # text read from one file, any format
READ_SECONDS = 120.0  # one file's reading stops with a warning after this long
# A .docx is a zip: refuse before parsing when its members unpack to more than this in total,
# or one member is compressed more than MAX_ZIP_RATIO times (a zip bomb posing as Word).
MAX_UNZIPPED_BYTES = 200 * 2**20
MAX_ZIP_RATIO = 200
MAX_ZIP_MEMBERS = 5_000
# HTML nested deeper than this is refused before parsing: HTML5 tree building takes time
# growing with the square of the depth (100,000 nested <div>s: 40 s).
MAX_HTML_DEPTH = 3_000
