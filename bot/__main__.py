"""Command line: ``announcements-bot serve | ask | search | chat | eval | bench``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from bot.bench import add_arguments as bench_arguments
from bot.bench import main as bench_main
from bot.config import ConfigError, Settings
from bot.core.analysis import tokenize
from bot.core.answer import Answer, answer, render_html, render_plain
from bot.core.corpus import load_corpus
from bot.core.library import Hit, Library

log = logging.getLogger("bot")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)
    command: Any = args.func
    code: int = command(args, settings)
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="announcements-bot",
        description="Answer questions about announcements, on Telegram or in the console.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    corpus_help = "corpus folder or .jsonl file (default: $CORPUS, else the repository's corpus/)"

    serve = sub.add_parser("serve", help="run the Telegram bot with long polling")
    serve.add_argument("--corpus", type=Path, help=corpus_help)
    serve.add_argument("--base-url", help="Bot API base URL, e.g. a local Bot API server")
    serve.set_defaults(func=_serve)

    ask = sub.add_parser("ask", help="print the reply the bot would send to a question")
    ask.add_argument("--corpus", type=Path, help=corpus_help)
    ask.add_argument("--json", action="store_true", help="print JSON: answered, text, sources")
    ask.add_argument("question", nargs="+")
    ask.set_defaults(func=_ask)

    search = sub.add_parser("search", help="rank articles for a query")
    search.add_argument("--corpus", type=Path, help=corpus_help)
    search.add_argument("-k", type=int, default=10, help="how many articles (default 10)")
    search.add_argument("--json", action="store_true", help="print one JSON line")
    search.add_argument("--queries", type=Path, help='JSONL file of {"id", "text"} queries')
    search.add_argument("query", nargs="*")
    search.set_defaults(func=_search)

    chat = sub.add_parser("chat", help="console chat: answer questions read from stdin")
    chat.add_argument("--corpus", type=Path, help=corpus_help)
    chat.set_defaults(func=_chat)

    evaluate = sub.add_parser("eval", help="measure retrieval and answers on a BEIR-like set")
    evaluate.add_argument(
        "--data",
        type=Path,
        required=True,
        help="folder with corpus.jsonl, queries.jsonl, qrels.tsv",
    )
    evaluate.add_argument("--json", type=Path, metavar="FILE", help="also write the figures here")
    evaluate.add_argument("--limit", type=int, help="only the first N questions")
    evaluate.add_argument(
        "--offtopic",
        type=Path,
        metavar="DIR",
        help="ask DIR's questions too: they should be declined",
    )
    evaluate.set_defaults(func=_eval)

    bench = sub.add_parser(
        "bench", help="time our BM25 engine beside rank-bm25, bm25s and tantivy (dev extra)"
    )
    bench_arguments(bench)
    bench.set_defaults(func=_bench)
    return parser


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=level, stream=sys.stderr
    )
    # httpx logs every request URL at INFO, and Bot API URLs contain the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def load_library(path: Path | None, settings: Settings) -> Library:
    """Load the corpus, report the files that failed, and build the library."""
    corpus = load_corpus(path or settings.corpus)
    for problem in corpus.problems:
        log.warning("skipped %s", problem)
    return Library(corpus.articles, passage_chars=settings.passage_chars)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    if not settings.token:
        print(
            "error: TELEGRAM_BOT_TOKEN is not set. Create a bot with @BotFather, then"
            " `export TELEGRAM_BOT_TOKEN=...` (or run `announcements-bot chat` to try it offline).",
            file=sys.stderr,
        )
        return 2
    # Telegram is only imported by the command that needs it.
    from bot.tg.app import ALLOWED_UPDATES, build_application

    if args.base_url:
        settings = dataclasses.replace(settings, base_url=args.base_url)
    application = build_application(settings, load_library(args.corpus, settings))
    application.run_polling(allowed_updates=ALLOWED_UPDATES)
    return 0


def answer_json(result: Answer) -> dict[str, Any]:
    """The ``ask --json`` record: whether it answered, the Telegram HTML, and the sources."""
    return {
        "answered": result.answered,
        "text": render_html(result),
        "sources": [
            {
                "id": a.id,
                "title": a.title,
                "url": a.url,
                "date": a.date.isoformat() if a.date else None,
            }
            for a in result.sources
        ],
    }


def _ask(args: argparse.Namespace, settings: Settings) -> int:
    library = load_library(args.corpus, settings)
    result = answer(library, " ".join(args.question))
    if args.json:
        print(json.dumps(answer_json(result), ensure_ascii=False))
    else:
        print(render_plain(result))
    return 0


def _search(args: argparse.Namespace, settings: Settings) -> int:
    if bool(args.queries) == bool(args.query):
        print("error: give either QUERY or --queries FILE", file=sys.stderr)
        return 2
    library = load_library(args.corpus, settings)
    if args.queries:
        for number, line in enumerate(args.queries.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                query_id, text = record["id"], str(record["text"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                print(
                    f"error: {args.queries}:{number}: not a query record ({exc})", file=sys.stderr
                )
                return 2
            hits = _hits_json(library.search(text, args.k))
            print(json.dumps({"id": query_id, "hits": hits}))
        return 0
    query = " ".join(args.query)
    found = library.search(query, args.k)
    if args.json:
        record = {"query": query, "terms": tokenize(query), "hits": _hits_json(found)}
        print(json.dumps(record))
        return 0
    for rank, hit in enumerate(found, 1):
        print(f"{rank:>3}  {hit.score:7.3f}  {hit.article.id}  {hit.article.title}")
    return 0


def _hits_json(hits: list[Hit]) -> list[dict[str, Any]]:
    return [
        {"id": h.article.id, "passage": h.passage.position, "score": round(h.score, 6)}
        for h in hits
    ]


def _eval(args: argparse.Namespace, _settings: Settings) -> int:
    from bot.evaluate import format_table, run_eval

    try:
        report, declined = run_eval(args.data, limit=args.limit, offtopic=args.offtopic)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(report, offtopic=declined))
    if args.json:
        figures: dict[str, Any] = report.to_json()
        if declined is not None:
            figures["offtopic_declined"] = declined
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


def _bench(args: argparse.Namespace, _settings: Settings) -> int:
    return bench_main(args)


def _chat(args: argparse.Namespace, settings: Settings) -> int:
    library = load_library(args.corpus, settings)
    return chat(library, sys.stdin, sys.stdout)


def chat(library: Library, stdin: TextIO, stdout: TextIO) -> int:
    """Answer each line of ``stdin`` until end of input; prompt only when a person is typing."""
    interactive = stdin.isatty()
    if interactive:
        stdout.write(f"{len(library)} announcements loaded. Ask a question (Ctrl-D to quit).\n")
    while True:
        if interactive:
            stdout.write("> ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            break
        if line.strip():
            stdout.write(render_plain(answer(library, line.strip())) + "\n\n")
            stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
