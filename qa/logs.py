"""Structured log lines (key=value or JSON) and stage timings.

The library only emits records; the `qa` command configures output once with
``setup_logging``. Extra fields given as ``log.info("index built", extra={"chunks": 12})``
become keys of the line, so a log reader can filter on them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import TextIO

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMATS = ("kv", "json")
# Libraries that log chatter below WARNING (bm25s even sets its own logger to DEBUG).
NOISY = (
    "bm25s",
    "faiss",
    "sentence_transformers",
    "transformers",
    "huggingface_hub",
    "httpx",
    "httpcore",
    "urllib3",
    "gradio",
    "uvicorn",
    "asyncio",
    "matplotlib",
)
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


def record_fields(record: logging.LogRecord) -> dict[str, object]:
    """time, level, logger, msg, then every ``extra`` field, then the error if any."""
    fields: dict[str, object] = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(record.created))
        + f".{int(record.msecs):03d}",
        "level": record.levelname,
        "logger": record.name,
        "msg": record.getMessage(),
    }
    fields.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
    if record.exc_info:
        fields["error"] = logging.Formatter().formatException(record.exc_info)
    return fields


class StderrHandler(logging.StreamHandler):
    """Writes to the current ``sys.stderr``, even when it was replaced after set-up."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: object) -> None:
        pass


def quiet_third_parties(record: logging.LogRecord) -> bool:
    """Drop chatter below WARNING from NOISY libraries (a handler filter, because some of
    them reset their own logger's level when imported)."""
    return record.levelno >= logging.WARNING or record.name.split(".")[0] not in NOISY


class KeyValueFormatter(logging.Formatter):
    """One line per record: ``key=value`` pairs; strings are JSON-quoted when needed.

    Quoting escapes newlines and control characters, so text from a question or a file name
    can never forge a second log line.
    """

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_kv_value(v)}" for k, v in record_fields(record).items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line (JSON Lines)."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record_fields(record), ensure_ascii=False, default=str)


def _kv_value(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    plain = text and text.isprintable() and not any(c in text for c in ' ="\\')
    return text if plain else json.dumps(text, ensure_ascii=False)


def setup_logging(level: str | None = None, fmt: str | None = None) -> None:
    """Send records to stderr as key=value (or JSON) lines at ``level``.

    Defaults come from QA_LOG_LEVEL (WARNING) and QA_LOG_FORMAT (kv). Third-party loggers
    stay at WARNING unless the level is DEBUG. Raises ValueError for an unknown level/format.
    """
    name = (level or os.environ.get("QA_LOG_LEVEL") or "WARNING").upper()
    if name not in LEVELS:
        raise ValueError(f"Log level {name!r} is unknown; use one of {', '.join(LEVELS)}.")
    style = (fmt or os.environ.get("QA_LOG_FORMAT") or "kv").lower()
    if style not in FORMATS:
        raise ValueError(f"Log format {style!r} is unknown; use one of {', '.join(FORMATS)}.")
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if style == "json" else KeyValueFormatter())
    if name != "DEBUG":
        handler.addFilter(quiet_third_parties)
    logging.basicConfig(level=name, handlers=[handler], force=True)
    logging.captureWarnings(True)
    # Progress bars (model loading) are terminal noise in logs; embedding bars stay.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


class Stopwatch:
    """Milliseconds spent per stage, measured as laps: ``lap("embed")`` charges the time
    since the previous lap to "embed" (repeated laps of one stage add up)."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self.stages: dict[str, float] = {}

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages[stage] = self.stages.get(stage, 0.0) + now - self._last
        self._last = now

    def fields(self) -> dict[str, float]:
        """``{"<stage>_ms": milliseconds}`` for log extras, plus the total."""
        out = {f"{stage}_ms": round(1000 * took, 1) for stage, took in self.stages.items()}
        out["total_ms"] = round(1000 * sum(self.stages.values()), 1)
        return out
