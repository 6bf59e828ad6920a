"""Where an index lives: files and FAISS (the embedded default) or a Milvus server."""

from __future__ import annotations

from qa.config import Settings, store_address
from qa.stores.base import Backend


def open_backend(settings: Settings) -> Backend:
    """The backend ``settings.store`` names (files in ``settings.index_dir`` when empty)."""
    if not settings.store:
        from qa.stores.faiss import FilesBackend

        return FilesBackend(settings.index_dir)
    from qa.stores.milvus import MilvusBackend

    return MilvusBackend(store_address(settings.store), settings)
