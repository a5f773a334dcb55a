"""Command line: ``announcements-bot serve | ask | search | chat | eval | bench | config``."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from bot.bench import add_arguments as bench_arguments
from bot.bench import main as bench_main
from bot.config import ConfigError, Settings
from bot.core.analysis import tokenize
from bot.core.answer import Answer, answer, describe, render_html, render_plain
from bot.core.corpus import newest_first
from bot.core.library import Hit, Library
from bot.core.phrases import text
from bot.core.semantic import ModelError
from bot.loading import library_builder, load_library
from bot.logs import Redactor, configure_logging, token_secrets
from bot.store import StoreError, lock_data_dir

log = logging.getLogger("bot")

# serve's options that set a setting: option's dest -> the setting's environment name.
_OPTION_SETTINGS = {
    "webhook_url": "WEBHOOK_URL",
    "listen": "LISTEN",
    "port": "PORT",
    "metrics_port": "METRICS_PORT",
}
SOURCES_PER_PAGE = 20  # as the bot's /sources


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the process exit code."""
    args = _parser().parse_args(argv)
    # Options that stand for a setting are checked with the settings, and reported with them.
    overrides = {
        name: str(value)
        for dest, name in _OPTION_SETTINGS.items()
        if (value := getattr(args, dest, None)) is not None
    }
    try:
        settings = Settings.load({**os.environ, **overrides}, getattr(args, "config", None))
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, secrets(settings))
    command: Any = args.func
    try:
        code: int = command(args, settings)
    except ModelError as exc:
        # The semantic stage can't start: say what to do in one line, as for a missing token.
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return code


def _parser() -> argparse.ArgumentParser:
    # --config is accepted before the command and after it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="TOML file of settings (the environment overrides it)",
    )
    parser = argparse.ArgumentParser(
        prog="announcements-bot",
        description="Answer questions about announcements, on Telegram or in the console.",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", required=True)
    corpus_help = "corpus folder or .jsonl file (default: $CORPUS, else the repository's corpus/)"

    serve = sub.add_parser(
        "serve", parents=[common], help="run the Telegram bot (long polling or a webhook)"
    )
    serve.add_argument("--corpus", type=Path, help=corpus_help)
    serve.add_argument("--base-url", help="Bot API base URL, e.g. a local Bot API server")
    serve.add_argument(
        "--webhook-url", help="receive updates at this public https:// address (needs a secret)"
    )
    serve.add_argument("--listen", help="address the webhook and metrics servers bind")
    serve.add_argument("--port", help="port of the webhook server (default 8443)")
    serve.add_argument("--metrics-port", help="serve /healthz and /metrics on this port")
    serve.set_defaults(func=_serve)

    ask = sub.add_parser(
        "ask", parents=[common], help="print the reply the bot would send to a question"
    )
    ask.add_argument("--corpus", type=Path, help=corpus_help)
    ask.add_argument("--json", action="store_true", help="print JSON: answered, text, sources")
    ask.add_argument("question", nargs="+")
    ask.set_defaults(func=_ask)

    search = sub.add_parser("search", parents=[common], help="rank articles for a query")
    search.add_argument("--corpus", type=Path, help=corpus_help)
    search.add_argument("-k", type=int, default=10, help="how many articles (default 10)")
    search.add_argument("--json", action="store_true", help="print one JSON line")
    search.add_argument("--queries", type=Path, help='JSONL file of {"id", "text"} queries')
    search.add_argument("query", nargs="*")
    search.set_defaults(func=_search)

    chat = sub.add_parser(
        "chat", parents=[common], help="console chat: answer questions read from stdin"
    )
    chat.add_argument("--corpus", type=Path, help=corpus_help)
    chat.set_defaults(func=_chat)

    evaluate = sub.add_parser(
        "eval", parents=[common], help="measure retrieval and answers on a BEIR-like set"
    )
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
        "bench",
        parents=[common],
        help="time our BM25 engine beside rank-bm25, bm25s and tantivy (dev extra)",
    )
    bench_arguments(bench)
    bench.set_defaults(func=_bench)

    config = sub.add_parser(
        "config", parents=[common], help="print the effective settings (secrets masked)"
    )
    config.set_defaults(func=_config)
    return parser


def _config(_args: argparse.Namespace, settings: Settings) -> int:
    print(settings.describe())
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    problems = []
    if not settings.token:
        problems.append(
            "TELEGRAM_BOT_TOKEN is not set. Create a bot with @BotFather, then"
            " `export TELEGRAM_BOT_TOKEN=...` (or run `announcements-bot chat` to try it offline)."
        )
    if settings.webhook_url and not settings.webhook_secret:
        problems.append(
            "a webhook needs WEBHOOK_SECRET, which Telegram sends with every update so that"
            " nobody else can post updates to the bot. Make one with"
            ' `python3 -c "import secrets; print(secrets.token_urlsafe(32))"`.'
        )
    if problems:
        print("error: " + "\nerror: ".join(problems), file=sys.stderr)
        return 2
    # Telegram is only imported by the command that needs it.
    from telegram.error import InvalidToken, NetworkError

    from bot.tg.app import ALLOWED_UPDATES, build_application

    if args.base_url:
        settings = dataclasses.replace(settings, base_url=args.base_url)
    if args.corpus:  # /reload and the corpus watcher read it again
        settings = dataclasses.replace(settings, corpus=args.corpus)
    try:
        instance = lock_data_dir(settings.data_dir)
        # After the lock: the library's vectors are kept in DATA_DIR too.
        application = build_application(settings, load_library(None, settings))
    except StoreError as exc:
        return _fail(
            settings,
            f"{exc}. DATA_DIR must be a writable folder for the bot's database (or nothing yet).",
            exc,
        )
    # Connect and check the token here, on the loop run_polling (or run_webhook) goes on with (it
    # skips what is already initialized), so a failure is reported in one line, not a traceback.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    with instance:
        try:
            loop.run_until_complete(application.initialize())
        except (InvalidToken, NetworkError) as exc:
            application.bot_data["store"].close()
            loop.close()
            if isinstance(exc, InvalidToken):
                problem = (
                    "Telegram rejected TELEGRAM_BOT_TOKEN (or TELEGRAM_BASE_URL is not a Bot API):"
                    f" {str(exc).rstrip('.')}. Check the token with @BotFather."
                )
            else:
                problem = (
                    f"cannot reach the Bot API at {settings.base_url}: {str(exc).rstrip('.')}."
                    " Check TELEGRAM_BASE_URL (or --base-url) and the network."
                )
            return _fail(settings, problem, exc)
        if settings.webhook_url:
            application.run_webhook(
                listen=settings.listen,
                port=settings.port,
                # The public address's path: a reverse proxy passes it on unchanged.
                url_path=urlsplit(settings.webhook_url).path.strip("/"),
                webhook_url=settings.webhook_url,
                secret_token=settings.webhook_secret,
                allowed_updates=ALLOWED_UPDATES,
            )
        else:
            application.run_polling(allowed_updates=ALLOWED_UPDATES)
        return 0


def secrets(settings: Settings) -> list[str]:
    """What no log line or error message may show: the bot token and the webhook's secret."""
    return [*token_secrets(settings.token), *filter(None, [settings.webhook_secret])]


def _fail(settings: Settings, message: str, error: Exception) -> int:
    """Report a start-up failure in one line (the traceback only at DEBUG); exit code 2."""
    log.debug("start-up failed", exc_info=error)
    redactor = Redactor(secrets(settings))
    print(f"error: {redactor.redact(message)}", file=sys.stderr)
    return 2


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


def _eval(args: argparse.Namespace, settings: Settings) -> int:
    from bot.evaluate import format_table, run_eval

    try:
        report, declined = run_eval(
            args.data,
            limit=args.limit,
            offtopic=args.offtopic,
            build=library_builder(settings),
        )
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
    """Answer each line of ``stdin`` until end of input; prompt only when a person is typing.

    ``/help`` and ``/sources [page]`` work as in the bot; anything else is a question.
    """
    interactive = stdin.isatty()
    if interactive:
        loaded = f"{len(library)} announcements loaded."
        stdout.write(f"{loaded} Ask a question, /help for more (Ctrl-D to quit).\n")
    while True:
        if interactive:
            stdout.write("> ")
            stdout.flush()
        line = stdin.readline()
        if not line:
            break
        if line.strip():
            stdout.write(console_reply(library, line.strip()) + "\n\n")
            stdout.flush()
    return 0


def console_reply(library: Library, line: str) -> str:
    """The console's reply to one line: a command's output, or the answer to a question."""
    command, _, rest = line.partition(" ")
    if command == "/help":
        return text("console_help")
    if command == "/sources":
        page = int(rest) - 1 if rest.strip().isdigit() and int(rest) > 0 else 0
        return sources_text(library, page)
    return render_plain(answer(library, line))


def sources_text(library: Library, page: int) -> str:
    """One page of the console's /sources: titles, dates and links, newest first."""
    articles = newest_first(library.articles)
    pages = max(1, -(-len(articles) // SOURCES_PER_PAGE))
    page = min(page, pages - 1)
    lines = [text("sources", count=len(articles))]
    if pages > 1:
        lines[0] += " " + text("page", page=page + 1, pages=pages)
    for article in articles[page * SOURCES_PER_PAGE : (page + 1) * SOURCES_PER_PAGE]:
        lines.append(f"- {describe(article)}" + (f" {article.url}" if article.url else ""))
    if page + 1 < pages:
        lines.append(f"/sources {page + 2}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
