"""Speed benchmark: cold start, warm ask against its floor, build against raw encode, RSS, scale.

    python benchmarks/speed.py                          # seed corpus, medquad-dev, 100k synthetic
    python benchmarks/speed.py --corpora seed           # only the seed corpus (a minute)
    python benchmarks/speed.py --corpora pdf            # reading 100 PDFs (needs pandoc, soffice)
    make bench-speed

For each corpus it prints:
- cold start: a fresh process with the index built, from `from qa import ask` to the first
  answer (median of --runs processes), and the whole process's wall time;
- warm ask p50/p95 against the floor (the bot's own model encoding the question, uncached,
  + an exact flat FAISS search, measured in this run on the same questions), and their ratio;
  the first WARM_UP questions warm both up and are not timed; the seed corpus is asked its canned
  questions (follow-ups aside);
- the composer's sentence encoding as it would cost without the index's sentence vectors;
- index build throughput (the full build, timed when it happened), and a fresh build of
  --paired-files files next to raw sentence-transformers `model.encode` of the same texts, run
  back to back (chunks and sentences: "same texts"; chunks alone: "chunks only");
- peak RSS of a process that has answered every cold-start question;
- FAISS index type, and recall@10 / @50 of the approximate index against exact search.

With ``--stores faiss,milvus`` each corpus gets a second column: its FAISS index copied into a
Milvus Lite server (``python -m milvus_lite server``, its own process, data under
benchmarks/out/<corpus>.milvus; nothing re-embedded), then the same cold starts and warm
questions with ``QA_STORE`` naming it, and the server's own peak RSS.

With ``--corpora pdf`` it reads a folder of 100 PDFs made from medquad-dev documents (each
through pandoc to Word with its headings, then printed to PDF by LibreOffice, as in
tests/fixtures/make_formats.py) and prints pages/s of the PDF reader (PDFium text, layout,
headings, running lines, pages) next to raw PDFium text extraction of the same pages
(``get_text_range`` of every page), and the time to index the folder.

Indexes and the synthetic corpus are cached under benchmarks/out/ (git-ignored); a build is
timed when it happens and its figures are kept in benchmarks/out/<corpus>.build.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from qa.chat import Chatbot  # noqa: E402
from qa.config import Settings  # noqa: E402
from qa.embedding import get_embedder, resolve_model  # noqa: E402
from qa.index import (  # noqa: E402
    build_index,
    load_index,
    read_manifest,
    sentence_texts,
    stale_reason,
)
from qa.stores import open_backend  # noqa: E402

SEED_QUESTIONS = [
    "What is denervation?",
    "How fast do damaged nerves regrow?",
    "Which diseases can cause denervation?",
    "What is cryoneurolysis?",
    "How is neurolysis performed?",
    "What chemicals are used for chemical neurolysis?",
    "What are the symptoms of denervation?",
    "How is denervation diagnosed?",
    "What is the capital of France?",
    "What is radiofrequency ablation used for?",
    "Is neurolysis permanent?",
    "What happens to a muscle after it loses its nerve supply?",
]

WARM_UP = 3  # questions asked before timing starts

# A serving process: first answer timed from the import; then every question; peak RSS from
# VmHWM (getrusage's maxrss would include the benchmark process it was exec'd from).
CHILD = """
import json, re, sys, time
began, began_cpu = time.perf_counter(), time.process_time()
from qa import ask
first = ask(sys.argv[1])
cold, cold_cpu = time.perf_counter() - began, time.process_time() - began_cpu
for question in json.loads(sys.argv[2]):
    ask(question)
status = open("/proc/self/status").read()
heavy = ("torch", "transformers", "sentence_transformers", "gradio")
peak = int(re.search(r"VmHWM:\\s+(\\d+)", status)[1]) / 1024
print(json.dumps({"cold": cold, "cold_cpu": cold_cpu, "rss_mb": peak,
                  "modules": sorted(m for m in heavy if m in sys.modules)}))
"""


def seed_questions() -> list[str]:
    """SEED_QUESTIONS, then every other standalone canned question of tests/canned (not the
    follow-ups, which need their conversation), each once: warm timings over ~115 questions
    instead of 12."""
    from qa.canned import load_cases

    canned = [
        case.question
        for path in sorted((REPO / "tests" / "canned").glob("*.yaml"))
        for case in load_cases(path)
        if not case.error and not case.after and case.question.strip()
    ]
    return list(dict.fromkeys([*SEED_QUESTIONS, *canned]))


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q))


def dev_questions(dev: Path, n: int) -> list[str]:
    lines = (dev / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]
    random.Random(0).shuffle(questions)
    return questions[:n]


def make_synthetic(dev_corpus: Path, folder: Path, passages: int, sentences: int) -> Path:
    """A corpus of ``passages`` one-sentence sections recombined from the dev corpus.

    Each file has a dev title and ten sections; a section is a dev heading and one dev
    sentence (drawn from a pool of ``sentences`` distinct ones), so it makes exactly one
    chunk. Short passages keep the 100,000-passage build within minutes on two cores.
    """
    corpus = folder / "corpus"
    stamp = folder / "complete.json"
    spec = {"passages": passages, "sentences": sentences, "source": str(dev_corpus)}
    if stamp.exists() and json.loads(stamp.read_text()) == spec:
        return corpus
    from qa.chunking import split_sentences
    from qa.documents import corpus_files, load_file

    titles: list[str] = []
    headings: set[str] = set()
    pool: set[str] = set()
    for path in corpus_files(dev_corpus):
        document = load_file(path, dev_corpus)
        if document is None:
            continue
        titles.append(document.title)
        for section in document.sections:
            if section.heading:
                headings.add(section.heading)
            for start, end in section.paragraphs:
                for s, e in split_sentences(document.text, start, end, 60):
                    text = document.text[s:e]
                    if 6 <= len(text.split()) <= 20 and "\n" not in text:
                        pool.add(text)
    rng = random.Random(0)
    chosen = rng.sample(sorted(pool), min(sentences, len(pool)))
    heading_list = sorted(headings)
    corpus.mkdir(parents=True, exist_ok=True)
    per_file = 10
    for n in range(passages // per_file):
        title = " ".join(rng.choice(titles).split()[:4]) + f" {n}"
        sections = [
            f"## {rng.choice(heading_list)}\n\n{rng.choice(chosen)}\n" for _ in range(per_file)
        ]
        text = f"# {title}\n\n" + "\n".join(sections)
        (corpus / f"doc-{n:06d}.md").write_text(text, encoding="utf-8")
    stamp.write_text(json.dumps(spec))
    return corpus


def ensure_index(name: str, settings: Settings, out: Path) -> dict[str, Any]:
    """Build the index if missing or stale (timed, with a progress bar); its build figures."""
    record = out / f"{name}.build.json"
    manifest = read_manifest(settings.index_dir)
    if stale_reason(manifest, settings.corpus_dir, settings) is None and record.exists():
        return dict(json.loads(record.read_text()))
    embedder = get_embedder(settings.model)
    began = time.perf_counter()
    index = build_index(settings, embedder, progress=True)
    seconds = time.perf_counter() - began
    figures = {
        "seconds": seconds,
        "chunks": index.manifest["n_chunks"],
        "sentences_embedded": index.manifest["sentences_embedded_last_build"],
        "faiss_type": index.manifest["faiss_type"],
        "loadavg": os.getloadavg()[0],
    }
    record.write_text(json.dumps(figures))
    return figures


def paired_build(corpus: Path, out: Path, files: int) -> dict[str, Any]:
    """A fresh build of ``files`` of the corpus's files, then raw sentence-transformers
    `model.encode` of the same texts, back to back so both see the same machine load."""
    import shutil

    from sentence_transformers import SentenceTransformer

    from qa.documents import corpus_files

    sample = out / f"paired-{corpus.parent.name}-{files}"
    shutil.rmtree(sample, ignore_errors=True)
    (sample / "corpus").mkdir(parents=True)
    every = corpus_files(corpus)
    for path in random.Random(2).sample(every, min(files, len(every))):
        shutil.copy(path, sample / "corpus" / path.name)
    settings = Settings().with_overrides(corpus_dir=sample / "corpus", index_dir=sample / "index")
    embedder = get_embedder(settings.model)
    began = time.perf_counter()
    index = build_index(settings, embedder, progress=False)
    build_seconds = time.perf_counter() - began
    chunks = index.fetch(range(index.manifest["n_chunks"]))
    passages = [chunk.embed_text() for chunk in chunks]
    distinct = list(dict.fromkeys(passages + sentence_texts(chunks)))
    model = SentenceTransformer(resolve_model(settings.model), device="cpu")
    model.encode(passages[:8], normalize_embeddings=True)
    began = time.perf_counter()
    model.encode(passages, batch_size=32, normalize_embeddings=True)
    raw_passages = time.perf_counter() - began
    began = time.perf_counter()
    model.encode(distinct[len(set(passages)) :], batch_size=32, normalize_embeddings=True)
    raw_all = raw_passages + time.perf_counter() - began
    shutil.rmtree(sample, ignore_errors=True)
    return {
        "paired_files": files,
        "paired_chunks": len(passages),
        "build_chunks_per_s": len(passages) / build_seconds,
        "raw_encode_chunks_per_s": len(passages) / raw_passages,
        "build_vs_raw_same_texts": raw_all / build_seconds,
        "build_vs_raw_chunks_only": raw_passages / build_seconds,
    }


def cold_starts(settings: Settings, questions: list[str], runs: int) -> dict[str, Any]:
    env = {**os.environ, "QA_CORPUS": str(settings.corpus_dir), "QA_INDEX": str(settings.index_dir)}
    if settings.store:
        env["QA_STORE"] = settings.store
    colds, cpus, walls, rss, modules = [], [], [], [], set()
    for run in range(runs):
        began = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-c", CHILD, questions[run % len(questions)], json.dumps(questions)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO,
        )
        walls.append(time.perf_counter() - began)
        data = json.loads(result.stdout.strip().splitlines()[-1])
        colds.append(data["cold"])
        cpus.append(data["cold_cpu"])
        rss.append(data["rss_mb"])
        modules.update(data["modules"])
    return {
        "cold_median_s": statistics.median(colds),
        "cold_runs_s": [round(c, 2) for c in colds],
        "cold_cpu_median_s": statistics.median(cpus),
        "process_wall_median_s": statistics.median(walls),
        "serving_rss_mb": max(rss),
        "heavy_modules_loaded": sorted(modules),
    }


def warm(settings: Settings, questions: list[str], files: Settings) -> dict[str, Any]:
    """Warm ask vs floor on the same questions; recall of the approximate index. The floor
    searches the chunk vectors of the FAISS index in ``files`` (the same as any store's)."""
    import faiss

    bot = Chatbot.from_corpus(settings=settings)
    index = bot.retriever.index
    manifest = read_manifest(files.index_dir)
    assert manifest is not None
    local = load_index(files.index_dir, manifest)
    flat = faiss.IndexFlatIP(local.vectors.shape[1])
    flat.add(np.ascontiguousarray(local.vectors))
    # The bot's own model, uncached: a second Embedder would be a second ONNX session, whose
    # thread pool the product never has, and whichever session sat idle answered about 1 ms
    # slower (seed: 2.12x-2.19x with a second session, 1.95x on the bot's, the same run).
    floor_model = bot.retriever.embedder
    for question in questions[:WARM_UP]:  # warm up both paths; not timed (the bot keeps them)
        bot.answer(question)
        floor_model.encode([question], cache=False)
    asks, floors, composer = [], [], []
    query_vectors = []
    for question in questions[WARM_UP:]:
        began = time.perf_counter()
        vector = floor_model.encode([question], cache=False)[0]
        flat.search(vector.reshape(1, -1), 10)
        floors.append(time.perf_counter() - began)
        query_vectors.append(vector)
        began = time.perf_counter()
        bot.answer(question)
        asks.append(time.perf_counter() - began)
        passages = bot.retrieve(question, settings.top_k)[:5]
        sentences = sentence_texts(index.fetch([p.chunk_id for p in passages]))
        began = time.perf_counter()
        floor_model.encode([question, *sentences], cache=False)
        composer.append(time.perf_counter() - began)
    searched = getattr(index, "faiss", None)
    result: dict[str, Any] = {
        "questions": len(asks),
        "ask_p50_ms": 1000 * percentile(asks, 50),
        "ask_p95_ms": 1000 * percentile(asks, 95),
        "floor_p50_ms": 1000 * percentile(floors, 50),
        "floor_p95_ms": 1000 * percentile(floors, 95),
        "composer_encode_uncached_p50_ms": 1000 * percentile(composer, 50),
        "faiss_type": type(searched).__name__ if searched is not None else "Milvus FLAT",
    }
    result["ratio_p50"] = result["ask_p50_ms"] / result["floor_p50_ms"]
    if searched is not None and not isinstance(searched, faiss.IndexFlat):
        queries = np.vstack(query_vectors).astype(np.float32)
        for k in (10, 50):
            _, exact = flat.search(queries, k)
            _, approx = searched.search(queries, k)
            hits = [len(set(a) & set(e)) / k for a, e in zip(approx, exact, strict=True)]
            result[f"recall@{k}"] = float(np.mean(hits))
    return result


def milvus_server(data: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A Milvus Lite gRPC server in its own process over ``data``, and its milvus:// URI."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    data.mkdir(parents=True, exist_ok=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(data)]
        + ["--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return server, f"milvus://127.0.0.1:{port}"
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError(f"Milvus Lite server did not start ({server.poll()})") from None
            time.sleep(0.2)


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def run_milvus(name: str, files: Settings, questions: list[str], args: argparse.Namespace) -> dict:
    """The FAISS index of ``files`` copied into a Milvus Lite server, then measured alike."""
    print(f"\n== {name} on a Milvus Lite server", flush=True)
    server, uri = milvus_server(args.out / f"{name}.milvus")
    try:
        settings = files.with_overrides(
            store=f"{uri}/bench", index_dir=args.out / f"{name}.milvus-index"
        )
        backend = open_backend(settings)
        faiss_manifest = read_manifest(files.index_dir)
        assert faiss_manifest is not None
        stored = backend.read_manifest()
        copy: dict[str, Any] = {}
        if stored is None or stored.get("built_at") != faiss_manifest["built_at"]:
            began = time.perf_counter()
            local = load_index(files.index_dir, faiss_manifest)
            copied = build_index(settings, get_embedder(settings.model), local, backend=backend)
            copy = {
                "copy_s": time.perf_counter() - began,
                "copy_embedded": copied.manifest["embedded_last_build"],
            }
        figures: dict[str, Any] = {
            "corpus": f"{name}, Milvus Lite server",
            "passages": faiss_manifest["n_chunks"],
            **copy,
        }
        figures.update(cold_starts(settings, questions[: args.cold_questions], args.runs))
        figures.update(warm(settings, questions, files))
        figures["milvus_server_rss_mb"] = peak_rss_mb(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)
    print(json.dumps(figures, indent=1), flush=True)
    return figures


def run_corpus(
    name: str, corpus: Path, questions: list[str], args: argparse.Namespace
) -> list[dict[str, Any]]:
    out = args.out
    settings = Settings().with_overrides(corpus_dir=corpus, index_dir=out / f"{name}.index")
    print(f"\n== {name}: {corpus}", flush=True)
    build = ensure_index(name, settings, out)
    manifest = read_manifest(settings.index_dir)
    assert manifest is not None
    figures: dict[str, Any] = {
        "corpus": name,
        "files": len(manifest["files"]),
        "passages": manifest["n_chunks"],
        "sentences": manifest["n_sentences"],
        "build": build,
        "full_build_chunks_per_s": build["chunks"] / build["seconds"],
    }
    figures.update(paired_build(corpus, args.out, min(args.paired_files, len(manifest["files"]))))
    figures.update(cold_starts(settings, questions[: args.cold_questions], args.runs))
    figures.update(warm(settings, questions, settings))
    print(json.dumps(figures, indent=1), flush=True)
    if "milvus" in args.stores.split(","):
        return [figures, run_milvus(name, settings, questions, args)]
    return [figures]


def make_pdfs(dev_corpus: Path, folder: Path, count: int) -> Path:
    """``count`` medquad-dev documents (evenly spread over the sorted list) as PDFs, cached."""
    import shutil
    import tempfile

    from tests.fixtures.make_formats import as_markdown

    if folder.is_dir() and len(list(folder.glob("*.pdf"))) >= count:
        return folder
    for tool in ("pandoc", "soffice"):
        if shutil.which(tool) is None:
            raise FileNotFoundError(
                f"{tool} is needed to make the PDFs: apt-get install "
                "pandoc libreoffice-writer-nogui"
            )
    sources = sorted(dev_corpus.glob("*.txt"))
    chosen = [sources[i * len(sources) // count] for i in range(count)]
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        for source in chosen:
            markdown = work / f"{source.stem}.md"
            markdown.write_text(as_markdown(source), encoding="utf-8")
            subprocess.run(
                ["pandoc", str(markdown), "-o", str(work / f"{source.stem}.docx")], check=True
            )
        subprocess.run(
            [
                "soffice",
                "--headless",
                "--convert-to",
                "pdf",
                "--outdir",
                str(folder),
                *map(str, sorted(work.glob("*.docx"))),
            ],
            check=True,
            capture_output=True,
        )
    print(f"made {len(list(folder.glob('*.pdf')))} PDFs in {folder}", flush=True)
    return folder


_TYPOGRAPHY = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-"})


def _plain_words(text: str) -> str:
    """Text with pandoc's typographic quotes and dashes made plain, whitespace collapsed."""
    return " ".join(text.translate(_TYPOGRAPHY).replace("--", "-").split())


def pdf_fidelity(folder: Path, dev_corpus: Path) -> dict[str, int]:
    """How many PDFs read back with the title and headings, and the paragraph text, of the
    .txt they were made from (up to pandoc's typographic quotes and dashes)."""
    from qa.documents import read_document
    from qa.readers.plain import parse

    same_headings = same_text = 0
    for path in sorted(folder.glob("*.pdf")):
        document = read_document(path.name, path.read_bytes())
        source = dev_corpus / f"{path.stem}.txt"
        original = parse(source.name, source.read_text(encoding="utf-8"))
        outline = [
            _plain_words(h) for h in [document.title, *(s.heading for s in document.sections)]
        ]
        wanted = [
            _plain_words(h) for h in [original.title, *(s.heading for s in original.sections)]
        ]
        same_headings += outline == wanted
        texts = [
            _plain_words(" ".join(d.text[a:b] for s in d.sections for a, b in s.paragraphs))
            for d in (document, original)
        ]
        same_text += texts[0] == texts[1]
    return {"pdf_same_headings": same_headings, "pdf_same_text": same_text}


def pdf_reading(folder: Path, dev_corpus: Path, out: Path, runs: int) -> dict[str, Any]:
    """Pages/s of the PDF reader and of raw PDFium text extraction, best of ``runs``; the
    time to index the folder (cached index removed first)."""
    import shutil

    import pypdfium2 as pdfium

    from qa.documents import read_document

    files = sorted(folder.glob("*.pdf"))
    blobs = [path.read_bytes() for path in files]
    pages = sum(len(pdfium.PdfDocument(blob)) for blob in blobs)
    reader, raw = [], []
    for _ in range(runs):
        began = time.perf_counter()
        for path, blob in zip(files, blobs, strict=True):
            read_document(path.name, blob)
        reader.append(time.perf_counter() - began)
        began = time.perf_counter()
        for blob in blobs:
            document = pdfium.PdfDocument(blob)
            for page in document:
                page.get_textpage().get_text_range()
            document.close()
        raw.append(time.perf_counter() - began)
    settings = Settings().with_overrides(corpus_dir=folder, index_dir=out / "pdf.index")
    shutil.rmtree(settings.index_dir, ignore_errors=True)
    began = time.perf_counter()
    build_index(settings, get_embedder(settings.model))
    built = time.perf_counter() - began
    manifest = read_manifest(settings.index_dir) or {}
    figures = {
        "corpus": "pdf",
        "pdf_files": len(files),
        "pdf_pages": pages,
        "reader_pages_per_s": pages / min(reader),
        "raw_pages_per_s": pages / min(raw),
        "reader_vs_raw": min(raw) / min(reader),
        "pdf_build_s": built,
        "pdf_passages": manifest.get("n_chunks", 0),
    }
    figures.update(pdf_fidelity(folder, dev_corpus))
    print(json.dumps(figures, indent=1), flush=True)
    return figures


def pdf_table(figures: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"| {figures['pdf_files']} PDFs, {figures['pdf_pages']} pages | pages/s |",
            "|---|---|",
            f"| qa PDF reader (layout, headings, pages) | {figures['reader_pages_per_s']:.0f} |",
            f"| raw PDFium text extraction (get_text_range) | {figures['raw_pages_per_s']:.0f} |",
            f"| reader / raw | {figures['reader_vs_raw']:.2f}x |",
            f"| index build of the folder ({figures['pdf_passages']} passages) | "
            f"{figures['pdf_build_s']:.1f} s |",
            f"| same title and headings as the source .txt | {figures['pdf_same_headings']} |",
            f"| same paragraph text as the source .txt | {figures['pdf_same_text']} |",
        ]
    )


def _cell(cell: Any, result: dict[str, Any]) -> str:
    try:
        return str(cell(result))
    except KeyError:  # a figure this column does not have (build figures of a store copy)
        return "-"


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        ("passages (chunks)", lambda r: f"{r['passages']:,}"),
        ("cold start to first answer, median", lambda r: f"{r['cold_median_s']:.2f} s"),
        (
            "  its CPU time (user + system), median",
            lambda r: f"{r['cold_cpu_median_s']:.2f} s" if "cold_cpu_median_s" in r else "-",
        ),
        ("warm ask p50 / p95", lambda r: f"{r['ask_p50_ms']:.1f} / {r['ask_p95_ms']:.1f} ms"),
        ("floor p50 (encode + flat search)", lambda r: f"{r['floor_p50_ms']:.1f} ms"),
        ("warm ask p50 / floor p50", lambda r: f"{r['ratio_p50']:.2f}x"),
        (
            "composer encode if uncached, p50",
            lambda r: f"{r['composer_encode_uncached_p50_ms']:.0f} ms",
        ),
        ("full build, chunks/s (incl. sentences)", lambda r: f"{r['full_build_chunks_per_s']:.1f}"),
        ("paired build of N files, chunks/s", lambda r: f"{r['build_chunks_per_s']:.1f}"),
        (
            "  raw model.encode of its chunks, chunks/s",
            lambda r: f"{r['raw_encode_chunks_per_s']:.1f}",
        ),
        ("  build / raw encode, same texts", lambda r: f"{r['build_vs_raw_same_texts']:.2f}x"),
        ("  build / raw encode, chunks only", lambda r: f"{r['build_vs_raw_chunks_only']:.2f}x"),
        ("serving process peak RSS", lambda r: f"{r['serving_rss_mb']:.0f} MB"),
        ("  Milvus Lite server peak RSS", lambda r: f"{r['milvus_server_rss_mb']:.0f} MB"),
        ("index copied into the store", lambda r: f"{r['copy_s']:.0f} s"),
        ("FAISS index", lambda r: r["faiss_type"]),
        (
            "recall@10 / @50 vs exact",
            lambda r: (
                f"{r['recall@10']:.3f} / {r['recall@50']:.3f}" if "recall@10" in r else "exact"
            ),
        ),
    ]
    lines = ["| | " + " | ".join(r["corpus"] for r in results) + " |"]
    lines.append("|---" * (len(results) + 1) + "|")
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(_cell(cell, r) for r in results) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dev", type=Path, default=REPO.parent / "shared/benchmarks/medquad-dev")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/out")
    parser.add_argument("--corpora", default="seed,dev,synthetic,pdf")
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--synthetic-sentences", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5, help="cold-start processes per corpus")
    parser.add_argument("--cold-questions", type=int, default=20)
    parser.add_argument("--questions", type=int, default=100, help="warm questions per corpus")
    parser.add_argument(
        "--paired-files", type=int, default=40, help="files built fresh against raw encode"
    )
    parser.add_argument("--pdfs", type=int, default=100, help="PDFs read with --corpora pdf")
    parser.add_argument(
        "--stores", default="faiss", help="faiss, or faiss,milvus for a Milvus Lite column too"
    )
    args = parser.parse_args()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    results = []
    pdf: dict[str, Any] | None = None
    for name in args.corpora.split(","):
        if name == "pdf":
            folder = make_pdfs(args.dev / "corpus", args.out / f"pdf-{args.pdfs}", args.pdfs)
            pdf = pdf_reading(folder, args.dev / "corpus", args.out, runs=3)
            continue
        if name == "seed":
            results.extend(run_corpus("seed", REPO / "corpus", seed_questions(), args))
            continue
        if not (args.dev / "corpus").is_dir():
            raise FileNotFoundError(f"No dev corpus at {args.dev}/corpus: pass --dev.")
        questions = dev_questions(args.dev, args.questions)
        if name == "dev":
            results.extend(run_corpus("medquad-dev", args.dev / "corpus", questions, args))
        elif name == "synthetic":
            folder = args.out / f"synthetic-{args.passages}"
            corpus = make_synthetic(
                args.dev / "corpus", folder, args.passages, args.synthetic_sentences
            )
            results.extend(run_corpus(f"synthetic-{args.passages}", corpus, questions, args))
        else:
            raise ValueError(f"Unknown corpus {name!r}: use seed, dev, synthetic or pdf.")
        (args.out / "speed.json").write_text(json.dumps(results, indent=1))
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    if results:
        print(table(results))
    if pdf is not None:
        print(pdf_table(pdf))
    return 0


if __name__ == "__main__":
    sys.exit(main())
