"""The `qa` command: build, ask, check, serve. A thin layer over the qa API."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from qa import __version__
from qa.config import Settings, settings_from_env
from qa.logs import setup_logging


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus", help="corpus folder (default: QA_CORPUS or ./corpus)")
    common.add_argument("--index", help="index folder (default: QA_INDEX or ./index)")
    common.add_argument(
        "--store",
        help="where the index lives: milvus://HOST:PORT[/NAME], a Milvus Lite file ending in .db, "
        "or files in --index (default: QA_STORE, else files)",
    )
    common.add_argument("--model", help="embedding model name or folder (default: QA_MODEL)")
    common.add_argument(
        "--top-k", type=int, help="passages read per answer (default: QA_TOP_K or 8)"
    )
    common.add_argument(
        "--abstain-below",
        type=float,
        help="abstain when the probability that the documents answer is below this "
        "(default: QA_ABSTAIN_BELOW or the threshold fitted with the model)",
    )
    common.add_argument(
        "--max-question-chars",
        type=int,
        help="longer questions are refused (default: QA_MAX_QUESTION_CHARS or 1000)",
    )
    common.add_argument(
        "--refresh-seconds",
        type=float,
        help="look for added, changed or removed files this often while running; 0: never "
        "(default: QA_REFRESH_SECONDS or 5)",
    )
    common.add_argument(
        "--log-level", help="DEBUG, INFO, WARNING or ERROR (default: QA_LOG_LEVEL or WARNING)"
    )
    common.add_argument(
        "--log-format", help="kv (key=value lines) or json (default: QA_LOG_FORMAT or kv)"
    )

    parser = argparse.ArgumentParser(prog="qa", description="Ask questions of your documents.")
    parser.add_argument("--version", action="version", version=f"qa {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    build = commands.add_parser("build", parents=[common], help="build or refresh the index")
    build.add_argument("corpus_folder", nargs="?", help="corpus folder (same as --corpus)")
    build.add_argument("--force", action="store_true", help="rebuild even if up to date")
    build.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        default="cpu",
        help="where the build embeds: cpu (ONNX, default) or cuda (a GPU torch sees)",
    )

    ask = commands.add_parser("ask", parents=[common], help="answer one question")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the Answer as JSON")

    check = commands.add_parser("check", parents=[common], help="run canned questions")
    check.add_argument("questions", nargs="+", help="YAML file(s) of canned questions")
    check.add_argument("--json-report", metavar="FILE", help="also write the report as JSON")
    check.add_argument(
        "--junit-xml", metavar="FILE", help="also write a JUnit XML report (one test per question)"
    )
    check.add_argument("--snapshot", metavar="FILE", help="compare answers with this snapshot")
    check.add_argument(
        "--update-snapshot", action="store_true", help="record current answers to --snapshot"
    )
    check.add_argument("--verbose", action="store_true", help="show passing answers too")

    serve = commands.add_parser("serve", parents=[common], help="start the browser chat")
    serve.add_argument(
        "--host",
        default=os.environ.get("QA_HOST") or "127.0.0.1",
        help="address to listen on (default: QA_HOST or 127.0.0.1)",
    )
    serve.add_argument(  # argparse applies type= to a string default, so a bad QA_PORT is
        "--port",  # reported as a usage error rather than a traceback
        type=int,
        default=os.environ.get("QA_PORT") or "7860",
        help="port (default: QA_PORT or 7860)",
    )
    serve.add_argument(
        "--allow-upload",
        action="store_true",
        help="let visitors add documents to the corpus folder from the page (off by default; "
        "needs --auth unless the host is this machine only)",
    )
    serve.add_argument(
        "--auth",
        metavar="USER:PASSWORD",
        default=os.environ.get("QA_AUTH") or None,
        help="ask for this user name and password before showing the page (default: QA_AUTH)",
    )
    serve.add_argument(
        "--notice",
        default=os.environ.get("QA_NOTICE"),
        help="a sentence the page adds to its note, such as what the answers are not "
        "(default: QA_NOTICE; over the default corpus: not medical advice)",
    )
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    corpus = getattr(args, "corpus_folder", None) or args.corpus
    return settings_from_env().with_overrides(
        corpus_dir=corpus,
        index_dir=args.index,
        store=args.store,
        model=args.model,
        top_k=args.top_k,
        abstain_below=args.abstain_below,
        max_question_chars=args.max_question_chars,
        refresh_seconds=args.refresh_seconds,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `qa` console script; returns the exit status."""
    args = _parser().parse_args(argv)
    for variable in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):  # nothing is downloaded
        os.environ.setdefault(variable, "1")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nor reported
    try:
        setup_logging(args.log_level, args.log_format)
        settings = _settings(args)
        return int(COMMANDS[args.command](args, settings))
    except (ValueError, OSError) as error:  # errors a user can fix: say what, not where
        print(f"qa: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _build(args: argparse.Namespace, settings: Settings) -> int:
    from qa.embedding import build_embedder
    from qa.index import open_index
    from qa.stores import open_backend

    embedder = build_embedder(settings.model, args.device)  # checked before anything is read
    index = open_index(settings, embedder, rebuild=args.force, update=True)
    manifest = index.manifest
    print(
        f"Index in {open_backend(settings).location}: {len(manifest['files'])} file(s), "
        f"{manifest['n_chunks']} passages ({manifest['embedded_last_build']} embedded in the "
        f"last build), model {manifest['model']}."
    )
    return 0


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    from qa.chat import Chatbot

    answer = Chatbot.from_corpus(settings=settings).ask(args.question)
    print(
        json.dumps(answer.to_dict(), indent=1, ensure_ascii=False)
        if args.json
        else answer.formatted()
    )
    return 0


def _check(args: argparse.Namespace, settings: Settings) -> int:
    from qa import canned
    from qa.chat import Chatbot

    if args.update_snapshot and not args.snapshot:
        raise ValueError("--update-snapshot needs --snapshot FILE to write to.")
    files = {path: canned.load_cases(path) for path in args.questions}
    cases = [case for file_cases in files.values() for case in file_cases]
    outcomes = canned.run_cases(Chatbot.from_corpus(settings=settings), cases)
    print(canned.report(outcomes, verbose=args.verbose))
    if args.json_report:
        Path(args.json_report).write_text(canned.outcomes_json(outcomes), encoding="utf-8")
    status = 0 if all(o.passed for o in outcomes) else 1
    recorded: dict[str, Any] | None = None
    if args.snapshot:
        path = Path(args.snapshot)
        current = canned.snapshot_of(outcomes)
        if args.update_snapshot:
            canned.write_snapshot(path, current)
            print(f"snapshot of {len(current)} answers written to {path}")
        else:
            recorded = canned.read_snapshot(path)
            changes = canned.snapshot_diff(recorded, current)
            print("\n".join(changes) if changes else f"answers match snapshot {path}")
            status = status or (1 if changes else 0)
    if args.junit_xml:
        from qa.junit import junit_xml

        report = junit_xml(canned.junit_cases(files, outcomes, recorded), name="qa check")
        Path(args.junit_xml).write_bytes(report)
    return status


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    auth = None
    if args.auth:
        user, _, password = args.auth.partition(":")
        if not user or not password:
            raise ValueError("--auth (or QA_AUTH) must be USER:PASSWORD, both non-empty.")
        auth = (user, password)
    if args.allow_upload and auth is None and args.host not in LOOPBACK:
        raise ValueError(
            f"--allow-upload on {args.host} lets anyone who reaches the page add files: "
            "give --auth USER:PASSWORD too (or serve on 127.0.0.1)."
        )
    if args.allow_upload and settings.store:
        raise ValueError(
            "--allow-upload needs the index in files: with --store the servers only read the "
            "index, so add documents to the builder's corpus folder and run qa build there."
        )
    from ui.app import serve

    serve(
        settings,
        host=args.host,
        port=args.port,
        allow_upload=args.allow_upload,
        auth=auth,
        notice=args.notice,
    )
    return 0


COMMANDS = {"build": _build, "ask": _ask, "check": _check, "serve": _serve}

if __name__ == "__main__":
    sys.exit(main())
