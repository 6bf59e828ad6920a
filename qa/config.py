"""Settings: one dataclass for every knob, filled from environment variables in one place."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Settings:
    """What the library needs to load, index and answer; CLI options override these."""

    corpus_dir: Path = PROJECT_ROOT / "corpus"
    index_dir: Path = PROJECT_ROOT / "index"
    model: str = DEFAULT_MODEL
    chunk_words: int = 120  # upper bound on words per chunk
    chunk_overlap: int = 1  # sentences shared by neighbouring chunks of a section
    top_k: int = 8  # passages handed to the composer
    # Abstain when the probability that the documents answer is below this; None: the
    # threshold fitted with the abstention model (qa/models/answerable.json).
    abstain_below: float | None = None
    max_question_chars: int = 1000  # longer questions are refused with a clear message
    # A running chatbot looks for added, changed and removed files at most this often
    # (seconds, in the background); 0 turns that off (Chatbot.from_corpus still checks).
    refresh_seconds: float = 5.0
    # Where the index lives: "" for files and FAISS in index_dir; "milvus://host:19530" (or
    # "milvus://host:19530/name" for collections named name_*) for a Milvus server; a path
    # ending in ".db" for a Milvus Lite database on this machine (see StoreAddress).
    store: str = ""

    def __post_init__(self) -> None:
        problems = [
            f"{name} must be {rule} (got {getattr(self, name)!r})"
            for name, rule, ok in (
                ("chunk_words", "at least 5", self.chunk_words >= 5),
                ("chunk_overlap", "0 or more", self.chunk_overlap >= 0),
                ("top_k", "at least 1", self.top_k >= 1),
                (
                    "abstain_below",
                    "between 0 and 1",
                    self.abstain_below is None or 0.0 <= self.abstain_below <= 1.0,
                ),
                ("max_question_chars", "at least 10", self.max_question_chars >= 10),
                ("refresh_seconds", "0 or more", self.refresh_seconds >= 0),
            )
            if not ok
        ]
        if self.store:
            try:
                store_address(self.store)
            except ValueError as error:
                problems.append(str(error))
        if problems:
            raise ValueError(
                "Invalid settings: " + "; ".join(problems) + ". Fix the option or QA_* variable."
            )

    def chunking_key(self) -> dict[str, int]:
        """The settings that change chunk boundaries; a change triggers a rebuild."""
        return {"chunk_words": self.chunk_words, "chunk_overlap": self.chunk_overlap}

    def with_overrides(self, **values: object) -> Settings:
        """A copy with the given non-None values replaced (paths are made absolute)."""
        clean = {k: v for k, v in values.items() if v is not None}
        for key in ("corpus_dir", "index_dir"):
            if key in clean:
                clean[key] = Path(str(clean[key])).expanduser().resolve()
        return replace(self, **clean)  # type: ignore[arg-type]


MILVUS_SCHEME = "milvus://"
DEFAULT_COLLECTIONS = "qa"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,40}")


@dataclass(frozen=True)
class StoreAddress:
    """A Milvus store: the URI MilvusClient connects to and the prefix of its collections."""

    uri: str  # "http://host:port", or the path of a Milvus Lite .db
    collections: str


def store_address(store: str) -> StoreAddress:
    """Read ``--store`` / ``QA_STORE`` (a ValueError saying what is wrong when it is invalid)."""
    if store.startswith(MILVUS_SCHEME):
        address, _, name = store[len(MILVUS_SCHEME) :].partition("/")
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"store {store!r} must be milvus://HOST:PORT[/NAME]")
        name = name or DEFAULT_COLLECTIONS
        if not _NAME.fullmatch(name):
            raise ValueError(f"store name {name!r} must be letters, digits and _ (up to 41)")
        return StoreAddress(f"http://{host}:{port}", name)
    if store.endswith(".db"):
        return StoreAddress(str(Path(store).expanduser().resolve()), DEFAULT_COLLECTIONS)
    raise ValueError(
        f"store {store!r} is neither milvus://HOST:PORT nor a Milvus Lite file ending in .db"
    )


_ENV = {
    "corpus_dir": "QA_CORPUS",
    "index_dir": "QA_INDEX",
    "model": "QA_MODEL",
    "chunk_words": "QA_CHUNK_WORDS",
    "chunk_overlap": "QA_CHUNK_OVERLAP",
    "top_k": "QA_TOP_K",
    "abstain_below": "QA_ABSTAIN_BELOW",
    "max_question_chars": "QA_MAX_QUESTION_CHARS",
    "refresh_seconds": "QA_REFRESH_SECONDS",
    "store": "QA_STORE",
}


def settings_from_env(environ: dict[str, str] | None = None) -> Settings:
    """Defaults overridden by QA_* environment variables (see README, Operations)."""
    env = os.environ if environ is None else environ
    types = {f.name: f.type for f in fields(Settings)}
    values: dict[str, object] = {}
    for name, var in _ENV.items():
        raw = env.get(var)
        if raw is None or raw == "":
            continue
        kind = types[name]
        try:
            if kind in ("int", int):
                values[name] = int(raw)
            elif kind in ("float", float, "float | None"):
                values[name] = float(raw)
            else:
                values[name] = raw
        except ValueError:
            raise ValueError(f"{var}={raw!r} is not a valid {kind}; fix or unset it.") from None
    return Settings().with_overrides(**values)
