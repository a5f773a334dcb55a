"""The durable store: round trips, upserts, migrations, refusals, and surviving a killed process."""

from __future__ import annotations

import datetime as dt
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from bot.core.corpus import Article
from bot.store import FILENAME, MIGRATIONS, SCHEMA_VERSION, AnswerRecord, Store, StoreError

REPO = Path(__file__).resolve().parent.parent

FULL = Article(
    id="channel:-100123:45",
    title="Harbour ferry moves to a winter timetable",
    text="From 1 November the ferry runs every 20 minutes.\n\nThe last crossing is at 22:10.",
    date=dt.date(2026, 10, 2),
    url="https://example.org/news/ferry",
    lang="en",
    tags=("transport", "ferry"),
)
BARE = Article(id="admin:1", title="Notice", text="Water is off on Friday.")
CHINESE = Article(
    id="zh-park.md",
    title="公园开放时间调整",
    text="自十一月一日起，人民公园每天早上六点开放。🌳",
    date=dt.date(2026, 11, 1),
    lang="zh",
    tags=("公园", "时间"),
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path) as opened:
        yield opened


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection, to look at or build a file behind the store's back."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        yield conn


# --- Articles ----------------------------------------------------------------------------------


def test_articles_round_trip_every_field(store: Store) -> None:
    for article in (FULL, BARE, CHINESE):
        assert store.save_article(article, origin="admin:42") is True
    assert store.articles() == [FULL, BARE, CHINESE]


def test_identical_save_changes_nothing(store: Store) -> None:
    store.save_article(FULL, origin="channel:-100123")
    assert store.save_article(FULL, origin="admin:42") is False
    with raw(store.path) as conn:
        assert conn.execute("SELECT origin, stored = updated FROM articles").fetchall() == [
            ("channel:-100123", 1)
        ]


def test_an_edit_replaces_the_article_in_its_first_position(store: Store) -> None:
    for article in (FULL, BARE, CHINESE):
        store.save_article(article, origin="channel:-100123")
    edited = Article(id=BARE.id, title="Notice", text="Water is off on Saturday.", date=None)
    assert store.save_article(edited, origin="admin:42") is True
    assert store.articles() == [FULL, edited, CHINESE]
    # A field gaining a value, or losing it again, is a change too (NULL never equals NULL).
    dated = Article(id=BARE.id, title="Notice", text=edited.text, date=dt.date(2026, 1, 2))
    assert store.save_article(dated, origin="admin:42") is True
    assert store.save_article(edited, origin="admin:42") is True
    with raw(store.path) as conn:
        origin, stored, updated = conn.execute(
            "SELECT origin, stored, updated FROM articles WHERE id = ?", (BARE.id,)
        ).fetchone()
    assert origin == "admin:42"
    assert dt.datetime.fromisoformat(updated) > dt.datetime.fromisoformat(stored)


def test_delete_article(store: Store) -> None:
    store.save_article(FULL, origin="admin:42")
    store.save_article(BARE, origin="admin:42")
    assert store.delete_article(FULL.id) is True
    assert store.delete_article(FULL.id) is False
    assert store.articles() == [BARE]
    store.save_article(FULL, origin="admin:42")  # stored anew: it goes to the end
    assert store.articles() == [BARE, FULL]


# --- The file ----------------------------------------------------------------------------------


def test_open_creates_the_data_dir_with_a_wal_database(tmp_path: Path) -> None:
    data_dir = tmp_path / "deep" / "data"
    with Store.open(data_dir) as store:
        assert store.path == data_dir / FILENAME
        assert store.schema_version() == SCHEMA_VERSION
    with raw(data_dir / FILENAME) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_reopen_keeps_everything(tmp_path: Path) -> None:
    with Store.open(tmp_path) as store:
        store.save_article(CHINESE, origin="channel:-100123")
        answer_id = store.record_answer(
            chat_id=7, question="公园几点开门？", source_ids=["zh-park.md"]
        )
        store.attach_message(answer_id, 7, 501)
        store.save_feedback(answer_id, 99, 1)
        before = store.get_answer(answer_id)
    with pytest.raises(StoreError, match="closed"):
        store.articles()
    with Store.open(tmp_path) as store:
        assert store.articles() == [CHINESE]
        assert store.get_answer(answer_id) == before
        assert store.answer_for_message(7, 501) == before
        assert store.feedback(answer_id) == {99: 1}
        assert store.record_answer(chat_id=7, question="next") == answer_id + 1


def test_a_write_survives_a_killed_process(tmp_path: Path) -> None:
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from bot.core.corpus import Article\n"
        "from bot.store import Store\n"
        "store = Store.open(Path(sys.argv[1]))\n"
        "store.save_article(Article(id='a1', title='T', text='Body.'), origin='admin:1')\n"
        "store.record_answer(chat_id=5, question='Q?', source_ids=['a1'])\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], cwd=REPO, capture_output=True, timeout=30
    )
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()
    with Store.open(tmp_path) as store:
        assert store.articles() == [Article(id="a1", title="T", text="Body.")]
        answer = store.get_answer(1)
        assert answer is not None
        assert (answer.question, answer.source_ids) == ("Q?", ("a1",))


def test_a_version_1_file_is_migrated_with_its_rows(tmp_path: Path) -> None:
    path = tmp_path / FILENAME
    with raw(path) as conn:  # the file as the first release left it
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute(
            "INSERT INTO articles (id, title, text, date, url, lang, tags, origin, stored, updated)"
            " VALUES ('old', '旧公告', '正文。', '2025-12-31', NULL, 'zh', '[\"旧\"]', 'admin:1',"
            " '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')"
        )
        conn.execute(
            "INSERT INTO answers (chat_id, question, context, source_ids, created)"
            " VALUES (7, 'Q?', 'earlier', '[\"old\"]', '2026-01-01T00:00:00+00:00')"
        )
        conn.execute("INSERT INTO answer_messages VALUES (7, 300, 1)")
        conn.execute("PRAGMA user_version = 1")
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.articles() == [
            Article(
                id="old",
                title="旧公告",
                text="正文。",
                date=dt.date(2025, 12, 31),
                lang="zh",
                tags=("旧",),
            )
        ]
        old = AnswerRecord(1, 7, "Q?", "earlier", ("old",), dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
        assert store.answer_for_message(7, 300) == old
        store.save_feedback(1, 99, -1)  # the table migration 2 added
        assert store.feedback(1) == {99: -1}


def test_a_file_from_a_newer_bot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / FILENAME
    with raw(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError) as raised:
        Store(path)
    message = str(raised.value)
    assert str(path) in message
    assert f"version {SCHEMA_VERSION + 1} is newer than this bot's {SCHEMA_VERSION}" in message


def test_a_corrupt_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / FILENAME
    path.write_bytes(b"\x00garbage, not a database\xff" * 200)
    with pytest.raises(StoreError, match="file is not a database") as raised:
        Store(path)
    assert str(path) in str(raised.value)


def test_an_unopenable_path_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "missing" / FILENAME
    with pytest.raises(StoreError, match="unable to open database file") as raised:
        Store(path)
    assert str(path) in str(raised.value)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(StoreError, match="cannot create the data directory"):
        Store.open(blocker / "data")


def test_a_database_without_wal_is_refused() -> None:
    # An in-memory database can't use a write-ahead log: such a store would not be durable.
    with pytest.raises(StoreError, match="cannot use WAL journal mode"):
        Store(Path(":memory:"))


# --- Answers and feedback ----------------------------------------------------------------------


def test_answers_round_trip(store: Store) -> None:
    before = dt.datetime.now(dt.UTC)
    first = store.record_answer(chat_id=7, question="When is the last ferry?")
    second = store.record_answer(
        chat_id=-100,
        question="And on Sundays?",
        context="When is the last ferry?",
        source_ids=("news/ferry.md", "recall-77"),
    )
    assert (first, second) == (1, 2)
    answer = store.get_answer(second)
    assert answer is not None
    assert answer.id == second
    assert (answer.chat_id, answer.question, answer.context) == (
        -100,
        "And on Sundays?",
        "When is the last ferry?",
    )
    assert answer.source_ids == ("news/ferry.md", "recall-77")
    assert answer.created.tzinfo is not None
    assert before <= answer.created <= dt.datetime.now(dt.UTC)
    plain = store.get_answer(first)
    assert plain is not None
    assert (plain.question, plain.context, plain.source_ids) == ("When is the last ferry?", "", ())
    assert store.get_answer(999) is None


def test_answers_are_found_by_their_random_token(store: Store) -> None:
    first = store.record_answer(chat_id=7, question="Q1")
    second = store.record_answer(chat_id=7, question="Q2", token="given-token-0001")
    record = store.get_answer(first)
    assert record is not None
    assert len(record.token) == 16
    assert store.answer_by_token(record.token) == record
    assert store.answer_by_token("given-token-0001") == store.get_answer(second)
    assert store.answer_by_token(str(first)) is None
    with pytest.raises(StoreError, match="UNIQUE"):
        store.record_answer(chat_id=8, question="Q3", token="given-token-0001")


def test_messages_lead_back_to_their_answer(store: Store) -> None:
    first = store.record_answer(chat_id=7, question="Q1")
    second = store.record_answer(chat_id=7, question="Q2")
    store.attach_message(first, 7, 100)
    store.attach_message(first, 7, 101)  # a "More" reply carries the same answer
    assert store.answer_for_message(7, 101) == store.get_answer(first)
    assert store.answer_for_message(8, 100) is None  # same message id, other chat
    store.attach_message(second, 7, 100)  # the message was edited to carry the next answer
    assert store.answer_for_message(7, 100) == store.get_answer(second)
    with pytest.raises(KeyError):
        store.attach_message(999, 7, 102)
    assert store.answer_for_message(7, 102) is None


def test_feedback_is_one_vote_per_user(store: Store) -> None:
    answer_id = store.record_answer(chat_id=7, question="Q")
    store.save_feedback(answer_id, 1, 1)
    store.save_feedback(answer_id, 2, 1)
    store.save_feedback(answer_id, 1, -1)  # changed their mind
    assert store.feedback(answer_id) == {1: -1, 2: 1}
    for bad in (0, 2, -2):
        with pytest.raises(ValueError, match="vote must be 1 or -1"):
            store.save_feedback(answer_id, 3, bad)
    with pytest.raises(KeyError):
        store.save_feedback(999, 1, 1)
    assert store.feedback(999) == {}
    store.save_feedback(answer_id, 3, 1)  # a failed write rolled back: the store still writes
    assert store.feedback(answer_id) == {1: -1, 2: 1, 3: 1}


def test_threads_share_one_store(store: Store) -> None:
    ids: list[int] = []

    def work() -> None:
        ids.extend(store.record_answer(chat_id=1, question="Q") for _ in range(20))

    threads = [threading.Thread(target=work) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(ids) == list(range(1, 101))


# --- Questions: what /stats and /unanswered report -----------------------------------------


def test_questions_give_the_day_s_figures_and_the_declined_ones(store: Store) -> None:
    store.record_question(chat_id=1, question="When is the ferry?", answered=True, seconds=0.2)
    store.record_question(chat_id=1, question="Who won the cup?", answered=False, seconds=0.1)
    store.record_question(chat_id=2, question="Where is Mars?", answered=False, seconds=0.4)
    today = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    stats = store.question_stats(since=today)
    assert (stats.questions, stats.answered, stats.declined) == (3, 1, 2)
    assert stats.median_seconds == pytest.approx(0.2)
    later = store.question_stats(since=today + dt.timedelta(days=1))
    assert (later.questions, later.median_seconds) == (0, None)
    assert [q.question for q in store.unanswered(limit=5)] == ["Where is Mars?", "Who won the cup?"]
    assert [q.question for q in store.unanswered(limit=1)] == ["Where is Mars?"]


def test_feedback_totals(store: Store) -> None:
    first = store.record_answer(chat_id=1, question="Q1")
    second = store.record_answer(chat_id=1, question="Q2")
    store.save_feedback(first, 10, 1)
    store.save_feedback(first, 11, -1)
    store.save_feedback(second, 10, 1)
    assert store.feedback_totals() == (2, 1)


@pytest.mark.parametrize("version", [2, 3])
def test_a_version_2_or_3_file_gains_tokens_and_the_questions_table(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / FILENAME
    with raw(path) as conn:  # the file as the release before the questions table left it
        for step in MIGRATIONS[:version]:
            for statement in step:
                conn.execute(statement)
        conn.execute(
            "INSERT INTO answers (chat_id, question, created)"
            " VALUES (7, 'Q?', '2026-01-01T00:00:00+00:00')"
        )
        conn.execute(f"PRAGMA user_version = {version}")
    with Store(path) as store:
        assert store.schema_version() == SCHEMA_VERSION == 4
        old = store.get_answer(1)
        assert old is not None
        assert old.token == ""  # stored before tokens: its buttons are gone
        new = store.get_answer(store.record_answer(chat_id=7, question="Q2?"))
        assert new is not None
        assert store.answer_by_token(new.token) == new
        store.record_question(chat_id=1, question="Q?", answered=False, seconds=0.0)
        assert [q.question for q in store.unanswered(limit=5)] == ["Q?"]
