"""The durable store: announcements that arrive at run time, the answers sent, and feedback.

Everything the bot learns while running lives in one SQLite file in the data directory, beside the
``corpus/`` folder it reads at start-up. The store is built so that a restart, or a crash at any
point, loses nothing that a method has returned from:

- every write is one transaction, committed before the method returns;
- the journal is a write-ahead log (WAL) synced on every commit (``synchronous=FULL``), so a
  commit survives a killed process and a power cut alike;
- the schema is versioned: ``PRAGMA user_version`` records it, and :data:`MIGRATIONS` upgrades an
  older file one step at a time, each step in its own transaction, so a crash mid-upgrade leaves
  the file at the previous version rather than half-changed.

The store is synchronous and thread-safe: a connection for writes and one for reads, each under a
lock. In WAL mode reads never wait for a writer, so a write that waits out another process's lock
(a second instance, a backup, the ``sqlite3`` shell) holds up only the writes behind it.

The bot never calls it from its event loop: :class:`AsyncStore` runs reads on a few threads and
writes on one writer thread, in order, and lets the bot queue a write without waiting for it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import fcntl
import functools
import json
import logging
import secrets
import sqlite3
import statistics
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ParamSpec, Self, TypeVar

from bot.core.corpus import Article

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger(__name__)

FILENAME = "announcements.sqlite3"
LOCK_FILENAME = "serve.lock"
BUSY_TIMEOUT_SECONDS = 10.0  # how long to wait for another process's write lock
READER_THREADS = 2  # reads are index lookups of a millisecond: two threads keep up with any chat

# MIGRATIONS[i] upgrades a file from schema version i to i + 1. A released step is never edited:
# files in the field were built by it. Change the schema by appending a step.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the initial schema.
    (
        # ``seq`` keeps the first-stored order: an upsert keeps it, and an explicit INTEGER PRIMARY
        # KEY (unlike an implicit rowid) survives VACUUM unchanged.
        """
        CREATE TABLE articles (
            seq     INTEGER PRIMARY KEY,
            id      TEXT NOT NULL UNIQUE,
            title   TEXT NOT NULL,
            text    TEXT NOT NULL,
            date    TEXT,                       -- ISO 8601 date, YYYY-MM-DD
            url     TEXT,
            lang    TEXT,
            tags    TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
            origin  TEXT NOT NULL,              -- who sent it: "channel:<id>", "admin:<user id>"
            stored  TEXT NOT NULL,              -- UTC ISO 8601 timestamps
            updated TEXT NOT NULL
        )
        """,
        # AUTOINCREMENT: an id is never reused, so an old button can't reach a newer answer.
        """
        CREATE TABLE answers (
            id         INTEGER PRIMARY KEY AUTOINCREMENT,
            chat_id    INTEGER NOT NULL,
            question   TEXT NOT NULL,
            context    TEXT NOT NULL DEFAULT '',
            source_ids TEXT NOT NULL DEFAULT '[]', -- JSON array of article ids
            created    TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE answer_messages (
            chat_id    INTEGER NOT NULL,
            message_id INTEGER NOT NULL,
            answer_id  INTEGER NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
            PRIMARY KEY (chat_id, message_id)
        ) WITHOUT ROWID
        """,
    ),
    # 2: feedback on answers, one vote per user and answer.
    (
        """
        CREATE TABLE feedback (
            answer_id INTEGER NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
            user_id   INTEGER NOT NULL,
            vote      INTEGER NOT NULL CHECK (vote IN (1, -1)),
            voted     TEXT NOT NULL,
            PRIMARY KEY (answer_id, user_id)
        ) WITHOUT ROWID
        """,
    ),
    # 3: a random token per answer, the id its buttons carry: sequential ids can be guessed, and
    # a guessed id would open another chat's answer. Older answers keep no token; their buttons
    # say "no longer available".
    (
        "ALTER TABLE answers ADD COLUMN token TEXT",
        "CREATE UNIQUE INDEX answers_token ON answers (token)",
    ),
    # 4: every question asked in a chat, answered or declined, and how long the reply took:
    # what /stats counts and /unanswered lists.
    (
        """
        CREATE TABLE questions (
            id       INTEGER PRIMARY KEY,
            chat_id  INTEGER NOT NULL,
            question TEXT NOT NULL,
            answered INTEGER NOT NULL CHECK (answered IN (0, 1)),
            seconds  REAL NOT NULL,
            asked    TEXT NOT NULL
        )
        """,
        "CREATE INDEX questions_asked ON questions (asked)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

_ARTICLE_COLUMNS = "id, title, text, date, url, lang, tags"
_ANSWER_COLUMNS = ", ".join(
    f"answers.{name}"
    for name in ("id", "chat_id", "question", "context", "source_ids", "created", "token")
)
TOKEN_BYTES = 12  # 96 random bits, 16 characters: never guessed, and short in callback data


class StoreError(RuntimeError):
    """The database file cannot be used; the message names the file and says why."""


@dataclass(frozen=True, slots=True)
class AnswerRecord:
    """An answer the bot sent: enough to answer a follow-up, a "More" button or a vote later."""

    id: int
    chat_id: int
    question: str
    context: str  # the earlier question a follow-up refers to, "" if none
    source_ids: tuple[str, ...]
    created: dt.datetime  # UTC, timezone-aware
    token: str = ""  # what the answer's buttons carry; "" for answers stored before schema 3


@dataclass(frozen=True, slots=True)
class Question:
    """A question asked in a chat, as /unanswered lists it."""

    question: str
    chat_id: int
    asked: dt.datetime  # UTC, timezone-aware


@dataclass(frozen=True, slots=True)
class QuestionStats:
    """How the questions since a moment went: what /stats shows."""

    questions: int
    answered: int
    declined: int
    median_seconds: float | None  # None when there was no question


class Store:
    """One SQLite database file, opened, upgraded to :data:`SCHEMA_VERSION` and kept open."""

    def __init__(self, path: Path, *, busy_timeout: float = BUSY_TIMEOUT_SECONDS) -> None:
        """Open or create the database at ``path`` and migrate it to the current schema.

        ``busy_timeout`` is how long a write waits for another connection's write lock. Raises
        :class:`StoreError` if the file is not a database, cannot be opened, or was written by a
        newer version of the bot.
        """
        self._path = path
        self._lock = threading.Lock()
        self._read_lock = threading.Lock()
        with _named_errors(path):
            # isolation_level=None: the module starts no transactions of its own; _writing() does.
            self._conn = sqlite3.connect(
                path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        try:
            self._configure()
            self._migrate()
            # Reads have a connection of their own: in WAL mode they never wait for a writer, so
            # a write waiting out another process's lock doesn't hold them up.
            with _named_errors(path):
                self._reader = sqlite3.connect(
                    path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
                )
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def open(cls, data_dir: Path) -> Self:
        """Open the store in ``data_dir``, creating the folder and the file when missing."""
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{data_dir}: cannot create the data directory: {exc}") from exc
        return cls(data_dir / FILENAME)

    def close(self) -> None:
        with self._lock, self._read_lock:
            self._conn.close()
            self._reader.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def path(self) -> Path:
        return self._path

    def schema_version(self) -> int:
        with self._reading() as conn:
            return _user_version(conn)

    # --- Articles ------------------------------------------------------------------------------

    def save_article(self, article: Article, *, origin: str) -> bool:
        """Store ``article``, replacing a stored one with the same id in place.

        Returns False, and changes nothing (not even the origin), when the stored article is
        already identical; True when it was added or changed.
        """
        now = _now()
        values = (
            article.id,
            article.title,
            article.text,
            article.date.isoformat() if article.date else None,
            article.url,
            article.lang,
            json.dumps(list(article.tags), ensure_ascii=False),
        )
        with self._writing() as conn:
            # The WHERE makes an identical save a no-op, so the row count tells what happened.
            cursor = conn.execute(
                f"""
                INSERT INTO articles ({_ARTICLE_COLUMNS}, origin, stored, updated)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET
                    title = excluded.title, text = excluded.text, date = excluded.date,
                    url = excluded.url, lang = excluded.lang, tags = excluded.tags,
                    origin = excluded.origin, updated = excluded.updated
                WHERE (title, text, date, url, lang, tags)
                    IS NOT (excluded.title, excluded.text, excluded.date,
                            excluded.url, excluded.lang, excluded.tags)
                """,
                (*values, origin, now, now),
            )
            return cursor.rowcount > 0

    def delete_article(self, article_id: str) -> bool:
        """Remove an article; True if it was stored."""
        with self._writing() as conn:
            return conn.execute("DELETE FROM articles WHERE id = ?", (article_id,)).rowcount > 0

    def articles(self) -> list[Article]:
        """Every stored article, in the order they were first stored."""
        with self._reading() as conn:
            rows = conn.execute(f"SELECT {_ARTICLE_COLUMNS} FROM articles ORDER BY seq").fetchall()
        return [_article(row) for row in rows]

    # --- Answers and feedback ------------------------------------------------------------------

    def record_answer(
        self,
        *,
        chat_id: int,
        question: str,
        context: str = "",
        source_ids: Sequence[str] = (),
        token: str | None = None,
        message: tuple[int, int] | None = None,
    ) -> int:
        """Remember an answer; returns its id, a small positive integer.

        ``token`` (a fresh :func:`new_token` by default) is what the answer's buttons carry;
        ``message`` (chat id, message id), the message that carried it, attached in the same
        transaction (see :meth:`attach_message`).
        """
        with self._writing() as conn:
            cursor = conn.execute(
                "INSERT INTO answers (chat_id, question, context, source_ids, created, token)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    chat_id,
                    question,
                    context,
                    json.dumps(list(source_ids)),
                    _now(),
                    token or new_token(),
                ),
            )
            answer_id = cursor.lastrowid
            assert answer_id is not None  # an INSERT into a rowid table always sets it
            if message is not None:
                _attach(conn, answer_id, *message)
            return answer_id

    def attach_message(self, answer_id: int, chat_id: int, message_id: int) -> None:
        """Note that bot message ``message_id`` in ``chat_id`` carried answer ``answer_id``.

        A message attached again (edited to carry another answer) points at the latest one.
        Raises KeyError for an unknown answer.
        """
        with self._writing() as conn:
            _require_answer(conn, answer_id)
            _attach(conn, answer_id, chat_id, message_id)

    def get_answer(self, answer_id: int) -> AnswerRecord | None:
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT {_ANSWER_COLUMNS} FROM answers WHERE id = ?", (answer_id,)
            ).fetchone()
        return _answer(row) if row else None

    def answer_by_token(self, token: str) -> AnswerRecord | None:
        """The answer whose buttons carry ``token``."""
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT {_ANSWER_COLUMNS} FROM answers WHERE token = ?", (token,)
            ).fetchone()
        return _answer(row) if row else None

    def answer_for_message(self, chat_id: int, message_id: int) -> AnswerRecord | None:
        """The answer a bot message carried: what a reply to that message follows up on."""
        with self._reading() as conn:
            row = conn.execute(
                f"SELECT {_ANSWER_COLUMNS} FROM answer_messages AS m"
                " JOIN answers ON answers.id = m.answer_id"
                " WHERE m.chat_id = ? AND m.message_id = ?",
                (chat_id, message_id),
            ).fetchone()
        return _answer(row) if row else None

    def save_feedback(self, answer_id: int, user_id: int, vote: int) -> None:
        """Record a 👍 (1) or 👎 (-1); a user's second vote on an answer replaces the first.

        Raises ValueError for any other vote and KeyError for an unknown answer.
        """
        if vote not in (1, -1):
            raise ValueError(f"vote must be 1 or -1, not {vote!r}")
        with self._writing() as conn:
            _require_answer(conn, answer_id)
            conn.execute(
                "INSERT INTO feedback (answer_id, user_id, vote, voted) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (answer_id, user_id) DO UPDATE"
                " SET vote = excluded.vote, voted = excluded.voted",
                (answer_id, user_id, vote, _now()),
            )

    def feedback(self, answer_id: int) -> dict[int, int]:
        """The votes on an answer: user id -> 1 or -1."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT user_id, vote FROM feedback WHERE answer_id = ?", (answer_id,)
            ).fetchall()
        return dict(rows)

    # --- Questions -----------------------------------------------------------------------------

    def record_question(
        self, *, chat_id: int, question: str, answered: bool, seconds: float
    ) -> None:
        """Note a question, whether it was answered, and how long the reply took."""
        with self._writing() as conn:
            conn.execute(
                "INSERT INTO questions (chat_id, question, answered, seconds, asked)"
                " VALUES (?, ?, ?, ?, ?)",
                (chat_id, question, int(answered), seconds, _now()),
            )

    def question_stats(self, since: dt.datetime) -> QuestionStats:
        """Counts and the median reply time of the questions asked since ``since`` (UTC)."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT answered, seconds FROM questions WHERE asked >= ?",
                (since.astimezone(dt.UTC).isoformat(),),
            ).fetchall()
        answered = sum(row[0] for row in rows)
        median = statistics.median(row[1] for row in rows) if rows else None
        return QuestionStats(len(rows), answered, len(rows) - answered, median)

    def unanswered(self, limit: int) -> list[Question]:
        """The latest declined questions, newest first."""
        with self._reading() as conn:
            rows = conn.execute(
                "SELECT question, chat_id, asked FROM questions WHERE answered = 0"
                " ORDER BY id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [
            Question(q, chat_id, dt.datetime.fromisoformat(asked)) for q, chat_id, asked in rows
        ]

    def feedback_totals(self) -> tuple[int, int]:
        """All votes ever given: (👍, 👎)."""
        with self._reading() as conn:
            up, down = conn.execute(
                "SELECT COALESCE(SUM(vote = 1), 0), COALESCE(SUM(vote = -1), 0) FROM feedback"
            ).fetchone()
        return int(up), int(down)

    # --- Connection ----------------------------------------------------------------------------

    def _configure(self) -> None:
        with _named_errors(self._path):
            # The first statement that reads the file: a file that isn't a database fails here.
            (mode,) = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()
            if mode != "wal":
                raise StoreError(f"{self._path}: cannot use WAL journal mode (got {mode!r})")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")

    def _migrate(self) -> None:
        """Apply the missing migrations, each with its version bump in one transaction.

        The version is read inside the write transaction, so two processes opening an old file
        at once can't both apply the same step.
        """
        while True:
            with self._writing() as conn:
                version = _user_version(conn)
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self._path}: schema version {version} is newer than this bot's "
                        f"{SCHEMA_VERSION}; upgrade the bot to use this database"
                    )
                if version == SCHEMA_VERSION:
                    return
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version + 1}")

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        with self._read_lock, _named_errors(self._path):
            yield self._reader

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """One transaction, committed on leaving the block and rolled back on an exception.

        IMMEDIATE takes the write lock up front, so a read-then-write never meets a busy error
        halfway through.
        """
        with self._lock, _named_errors(self._path):
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise


def lock_data_dir(data_dir: Path) -> IO[bytes]:
    """Take ``data_dir`` for this process: the lock is held while the returned file is open.

    Two bots on one data directory would each answer from an index missing the other's posts;
    the second is refused with a :class:`StoreError`. The operating system drops the lock when
    the process ends, however it ends.
    """
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = (data_dir / LOCK_FILENAME).open("ab")
    except OSError as exc:
        raise StoreError(f"{data_dir}: cannot use the data directory: {exc}") from exc
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise StoreError(
            f"{data_dir}: another `announcements-bot serve` is using this data directory;"
            " stop it first, or give this one another DATA_DIR"
        ) from None
    return lock


class AsyncStore:
    """A :class:`Store` for the event loop: its methods run on threads, never on the loop.

    Reads run on :data:`READER_THREADS` threads, writes on one writer thread in the order they
    were asked for. :meth:`write_later` queues a write and returns at once: what the bot records
    about an answer it has sent must not hold up the next update, whatever the database is doing.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self._readers = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="store-read")
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="store-write")
        self._pending: set[Future[Any]] = set()
        self._pending_lock = threading.Lock()  # the writer thread removes what the loop adds

    async def read(self, method: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``method`` (a reading method of :attr:`store`) on a reader thread."""
        call = functools.partial(method, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._readers, call)

    async def write(self, method: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``method`` (a writing method of :attr:`store`) on the writer thread."""
        return await asyncio.wrap_future(self._submit(method, *args, **kwargs))

    def write_later(
        self, lost: str, method: Callable[P, object], *args: P.args, **kwargs: P.kwargs
    ) -> None:
        """Queue a write without waiting for it; if it fails, log one line saying what is
        ``lost``."""
        future = self._submit(method, *args, **kwargs)
        with self._pending_lock:
            self._pending.add(future)

        def done(future: Future[Any]) -> None:
            with self._pending_lock:
                self._pending.discard(future)
            if not future.cancelled() and (error := future.exception()) is not None:
                log.warning("could not store %s: %s", lost, error)

        future.add_done_callback(done)

    async def flush(self) -> None:
        """Wait for every queued write to finish."""
        while True:
            with self._pending_lock:
                pending = [asyncio.wrap_future(future) for future in self._pending]
            if not pending:
                return
            # Failures are logged by write_later's callback; gather just takes them.
            await asyncio.gather(*pending, return_exceptions=True)

    def close(self) -> None:
        """Finish the queued writes, stop the threads and close the store."""
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self.store.close()

    def _submit(self, method: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        return self._writer.submit(method, *args, **kwargs)


@contextmanager
def _named_errors(path: Path) -> Iterator[None]:
    """Turn sqlite's errors into StoreError naming the file: its own messages don't."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: {exc}") from exc


def _user_version(conn: sqlite3.Connection) -> int:
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    return int(version)


def _require_answer(conn: sqlite3.Connection, answer_id: int) -> None:
    if conn.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone() is None:
        raise KeyError(answer_id)


def _attach(conn: sqlite3.Connection, answer_id: int, chat_id: int, message_id: int) -> None:
    conn.execute(
        "INSERT INTO answer_messages (chat_id, message_id, answer_id) VALUES (?, ?, ?)"
        " ON CONFLICT (chat_id, message_id) DO UPDATE SET answer_id = excluded.answer_id",
        (chat_id, message_id, answer_id),
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _article(row: Any) -> Article:
    article_id, title, text, date, url, lang, tags = row
    return Article(
        id=article_id,
        title=title,
        text=text,
        date=dt.date.fromisoformat(date) if date else None,
        url=url,
        lang=lang,
        tags=tuple(json.loads(tags)),
    )


def _answer(row: Any) -> AnswerRecord:
    answer_id, chat_id, question, context, source_ids, created, token = row
    return AnswerRecord(
        id=answer_id,
        chat_id=chat_id,
        question=question,
        context=context,
        source_ids=tuple(json.loads(source_ids)),
        created=dt.datetime.fromisoformat(created),
        token=token or "",
    )


def new_token() -> str:
    """A random answer token: letters, digits, "-" and "_" (no ":", the callback separator)."""
    return secrets.token_urlsafe(TOKEN_BYTES)
