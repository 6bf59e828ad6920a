"""The fast query path: ONNX encoder equal to sentence-transformers, light imports, caches."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa.chat import Chatbot
from qa.config import DEFAULT_MODEL, PROJECT_ROOT, Settings
from qa.embedding import Embedder, export_folder, get_embedder, resolve_model
from qa.index import make_faiss, sentence_texts
from qa.lexical import LexicalRanker
from qa.question import analyse

TEXTS = [
    "What is denervation?",
    "x",
    "Cryoneurolysis uses a cold probe to freeze a nerve; the effect lasts for months.",
    "Über-long naïve café sentence with ünïcödé and numbers 12,345.6 — and a dash.",
    " ".join(["Phenol and alcohol are used for chemical neurolysis of peripheral nerves."] * 40),
]


def test_onnx_encoder_matches_sentence_transformers() -> None:
    fast = get_embedder(DEFAULT_MODEL)
    assert fast is get_embedder(DEFAULT_MODEL)
    assert fast.backend == "onnx"
    reference = Embedder(DEFAULT_MODEL, backend="torch")
    expected = reference.encode(TEXTS, cache=False)
    batched = fast.encode(TEXTS, cache=False)
    one_by_one = np.vstack([fast.encode([text], cache=False) for text in TEXTS])
    assert batched.shape == (len(TEXTS), fast.dimension) == expected.shape
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(batched * expected, axis=1)) > 0.999
    assert np.min(np.sum(one_by_one * batched, axis=1)) > 0.9999  # padding changes nothing


def test_export_goes_to_the_cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_CACHE", str(tmp_path))
    embedder = Embedder(DEFAULT_MODEL)
    folder = export_folder(resolve_model(DEFAULT_MODEL))
    assert folder.is_relative_to(tmp_path)
    assert embedder.backend == "onnx"
    assert {p.name for p in folder.iterdir()} == {"model.onnx", "tokenizer.json", "export.json"}
    assert json.loads((folder / "export.json").read_text())["pooling"] == "mean"
    exported_at = (folder / "model.onnx").stat().st_mtime_ns
    again = Embedder(DEFAULT_MODEL, backend="onnx")  # loads the export, does not re-export
    assert (folder / "model.onnx").stat().st_mtime_ns == exported_at
    assert np.allclose(again.encode(TEXTS[:3]), embedder.encode(TEXTS[:3]), atol=1e-5)


def test_import_and_first_answer_stay_light(bot: Chatbot, seed_settings: Settings) -> None:
    heavy = ["torch", "transformers", "sentence_transformers", "gradio", "faiss", "bm25s"]
    code = (
        "import json, sys\n"
        "import qa\n"
        f"after_import = [m for m in {heavy!r} if m in sys.modules]\n"
        "answer = qa.ask('What is denervation?')\n"
        f"after_ask = [m for m in {heavy!r} if m in sys.modules]\n"
        "print(json.dumps([after_import, after_ask, answer.citations[0].source]))\n"
    )
    env = {
        **os.environ,
        "QA_CORPUS": str(seed_settings.corpus_dir),
        "QA_INDEX": str(seed_settings.index_dir),
    }
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=PROJECT_ROOT
    )
    assert result.returncode == 0, result.stderr
    after_import, after_ask, source = json.loads(result.stdout.strip().splitlines()[-1])
    assert after_import == []
    assert set(after_ask) <= {"faiss", "bm25s"}  # search needs these; the model needs no torch
    assert source == "denervation.txt"


def test_composer_sentences_come_from_the_index(bot: Chatbot) -> None:
    index = bot.retriever.index
    texts = sentence_texts(index.chunks)
    assert len(texts) == index.manifest["n_sentences"] == len(index.sentence_vectors)
    stored = dict(zip(texts, index.sentence_vectors, strict=True))
    found = bot.retriever.search(analyse("What is denervation?", bot.lexicon), k=3)
    said = [p.text[a - p.start : b - p.start] for p in found.passages for a, b in p.sentences]
    served = np.concatenate(found.sentence_vectors)  # read from the store, not encoded
    assert served.dtype == np.float32 and len(served) == len(said)
    assert np.array_equal(served, np.array([stored[t] for t in said], dtype=np.float32))
    fresh = bot.retriever.embedder.encode(said, cache=False)
    assert np.min(np.sum(fresh * served, axis=1)) > 0.999


def test_large_indexes_use_hnsw_with_high_recall() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(3000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert type(make_faiss(vectors, exact_limit=5000)).__name__ == "IndexFlatIP"
    approximate = make_faiss(vectors, exact_limit=1000)
    assert type(approximate).__name__ == "IndexHNSWSQ"  # over float16 copies
    exact = make_faiss(vectors, exact_limit=5000)
    queries = vectors[:100] + 0.1 * rng.normal(size=(100, 64)).astype(np.float32)
    _, want = exact.search(queries, 10)
    _, got = approximate.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, want, strict=True)])
    assert recall > 0.9


def test_bm25_survives_a_round_trip_through_bytes() -> None:
    texts = ["kettle descaling with vinegar", "bread dough proves", "descale the kettle monthly"]
    ranker = LexicalRanker.build(texts)
    loaded = LexicalRanker.from_bytes(ranker.to_bytes())
    for query in ["kettle", "how does dough prove", "the and of"]:
        assert np.array_equal(loaded.scores(query), ranker.scores(query))
    assert loaded.scores("descaling kettles").argmax() in (0, 2)
    assert not loaded.scores("the and of").any()


def test_short_texts_are_not_padded_to_the_width_of_a_long_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A sentence and two words run as two forward passes: padded to the sentence's width,
    the words would cost more than a pass of their own (index builds mix chunks and their
    sentences, answers a sentence and the question's unknown words)."""
    fast = get_embedder(DEFAULT_MODEL)
    assert fast._onnx is not None
    encoder, run = fast._onnx, fast._onnx.run
    passes: list[list[int]] = []

    def counted(ids: list[list[int]]) -> np.ndarray:
        passes.append([len(row) for row in ids])
        return run(ids)

    monkeypatch.setattr(encoder, "run", counted)
    vectors = fast.encode([TEXTS[2], "nerve", "pain"], cache=False)
    assert passes == [[len(encoder.token_ids([TEXTS[2]])[0])], [3, 3]]
    alone = np.vstack([fast.encode([text], cache=False) for text in (TEXTS[2], "nerve", "pain")])
    assert np.min(np.sum(vectors * alone, axis=1)) > 0.9999
