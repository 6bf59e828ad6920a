"""Where an index lives: files and FAISS (the embedded default)."""

from __future__ import annotations

from qa.config import Settings
from qa.stores.base import Backend


def open_backend(settings: Settings) -> Backend:
    """The backend of ``settings``: files in ``settings.index_dir``."""
    from qa.stores.faiss import FilesBackend

    return FilesBackend(settings.index_dir)
