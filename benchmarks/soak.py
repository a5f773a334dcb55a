"""Soak: the real ``serve`` polling a fake Bot API on 127.0.0.1, many users, faults at random.

``python -m benchmarks.soak [--questions 10000] [--users 200] [--rate-limit 0] [--json FILE]``

The bot runs as it does in production, in its own process (``python -m bot serve``), over the
SQuAD corpus (``../shared/eval/squad``) by default. This process plays Telegram and the users:
each of ``--users`` users asks, waits for the reply, and asks again (a closed loop, so the figure
is the bot's capacity, not the rate the test pushes): private questions, ``/ask`` in one of
``--groups`` groups, inline queries, and presses of the buttons under their earlier answers.
Meanwhile faults are injected at random moments, ``--faults`` of each kind: a 429 with
``retry_after`` 1, a 500, and a connection dropped after the call took effect; and the bot's
database is locked by another connection ``--locks`` times for ``--lock-seconds``.

Reported: whether every question was answered exactly once and in the chat it was asked in (no
reply lost, none twice, no apology), throughput (answered updates a second, first question to
last reply), p50/p99 from pushing an update to its reply, the bot's peak memory (VmHWM) and the
growth of its resident memory from the first thousand answers to the end. Loopback only; the run
is bounded by ``--timeout``.

``--rate-limit 0`` (the default) turns the bot's rate limiter off: the bot's own capacity.
``--rate-limit 30`` is Telegram's limit, as deployed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.auxil.bot_api import (
    BOT_TOKEN,
    ApiCall,
    JSONDict,
    make_bot_message,
    make_callback_query_update,
    make_inline_query_update,
    make_message_update,
)
from tests.auxil.fake_server import DROP, FakeBotApiServer, Fault

REPO = Path(__file__).resolve().parent.parent
SQUAD = REPO.parent / "shared" / "eval" / "squad"
FILENAME = "announcements.sqlite3"

# What a user does next: mostly private questions, as in life; the shares are round numbers.
ACTIONS = (("private", 0.6), ("group", 0.15), ("inline", 0.15), ("button", 0.1))
# Calls that answer a user, and so may fail: the faults land on these (and on getUpdates).
REPLY_METHODS = frozenset(
    {"sendMessage", "answerInlineQuery", "answerCallbackQuery", "editMessageText", "getUpdates"}
)
FAULTS = {"429": Fault.too_many_requests(1), "500": Fault(500), "drop": DROP}
REPLY_TIMEOUT = 60.0  # seconds a user waits for a reply before counting it lost
MEMORY_MARK = 1000  # memory is sampled after this many answers, and at the end


@dataclass(frozen=True, slots=True)
class SoakConfig:
    corpus: Path
    questions: tuple[str, ...]  # the texts users ask, in turn
    total: int = 10_000
    users: int = 200
    groups: int = 10
    rate_limit: int = 0
    faults: int = 5  # of each kind
    locks: int = 2
    lock_seconds: float = 2.0
    seed: int = 1
    timeout: float = 900.0
    start_timeout: float = 180.0  # loading a large corpus takes a while
    log: Path | None = None  # where to keep the bot's log


@dataclass(frozen=True, slots=True)
class SoakReport:
    asked: int
    answered: int
    lost: int  # no reply within REPLY_TIMEOUT
    duplicates: int  # a second reply to one question
    unexpected: int  # a reply to no question (in a chat with nothing pending)
    apologies: int
    seconds: float
    throughput: float  # answered updates a second
    p50_ms: float
    p99_ms: float
    peak_rss_mb: float
    rss_first_mb: float  # after the first MEMORY_MARK answers
    rss_last_mb: float  # at the end
    bot_cpu_seconds: float  # the bot's CPU time over the run
    harness_cpu_seconds: float  # this process's: the fake Bot API and the users
    faults: dict[str, int] = field(default_factory=dict)
    locks: int = 0
    log_warnings: int = 0
    log_errors: int = 0

    @property
    def exactly_once(self) -> bool:
        return (
            self.answered == self.asked
            and not self.lost
            and not self.duplicates
            and not self.unexpected
            and not self.apologies
        )

    @property
    def growth(self) -> float:
        return self.rss_last_mb / self.rss_first_mb - 1 if self.rss_first_mb else 0.0


class Chaos:
    """Plans the faults: each lands on a reply call picked at random among the expected ones."""

    def __init__(self, config: SoakConfig, rng: random.Random) -> None:
        # At least one reply call per question: every planned call comes.
        calls = rng.sample(range(config.total // 10, config.total), config.faults * len(FAULTS))
        self._plan = dict(zip(calls, sorted(FAULTS) * config.faults, strict=True))
        self._calls = 0
        self._lock = threading.Lock()
        self.injected: Counter[str] = Counter()

    def __call__(self, method: str) -> Fault | None:
        if method not in REPLY_METHODS:
            return None
        with self._lock:
            self._calls += 1
            name = self._plan.pop(self._calls, None)
            if name is None:
                return None
            self.injected[name] += 1
        return FAULTS[name]


@dataclass(slots=True)
class _Pending:
    started: float
    future: asyncio.Future[ApiCall]


class Users:
    """The users' side: pushes their updates and matches each reply to what it answers."""

    def __init__(self, server: FakeBotApiServer, config: SoakConfig, rng: random.Random) -> None:
        self.server = server
        self.config = config
        self.rng = rng
        self.loop = asyncio.get_running_loop()
        self.pending: dict[tuple[Any, ...], _Pending] = {}
        self.replied: set[tuple[Any, ...]] = set()
        self.latencies: list[float] = []
        self.answered = self.lost = self.duplicates = self.unexpected = self.apologies = 0
        self.first_push = self.last_reply = 0.0
        self.milestones: dict[int, asyncio.Event] = {}
        server.listeners.append(self._heard)

    def at(self, answered: int) -> asyncio.Event:
        """An event set once ``answered`` questions are answered."""
        return self.milestones.setdefault(answered, asyncio.Event())

    async def user(self, user_id: int, turns: int) -> None:
        last_answer: ApiCall | None = None
        for _ in range(turns):
            kind = self.rng.choices([a for a, _ in ACTIONS], [w for _, w in ACTIONS])[0]
            if kind == "button" and last_answer is None:
                kind = "private"
            question = self.rng.choice(self.config.questions)
            if kind == "private":
                update = make_message_update(question, chat_id=user_id, user_id=user_id)
                key: tuple[Any, ...] = ("chat", user_id)
            elif kind == "group":
                chat_id = -1000 - self.rng.randrange(self.config.groups)
                update = make_message_update(
                    f"/ask {question}", chat_id=chat_id, chat_type="supergroup", user_id=user_id
                )
                key = ("reply", chat_id, update["message"]["message_id"])
            elif kind == "inline":
                update = make_inline_query_update(question, user_id=user_id)
                key = ("inline", update["inline_query"]["id"])
            else:
                assert last_answer is not None
                update = self._press(user_id, last_answer)
                key = ("callback", update["callback_query"]["id"])
            reply = await self._ask(key, update)
            if reply is not None and kind == "private" and reply.params.get("reply_markup"):
                last_answer = reply

    def _press(self, user_id: int, answer: ApiCall) -> JSONDict:
        rows = answer.params["reply_markup"]["inline_keyboard"]
        data = [button["callback_data"] for row in rows for button in row]
        message = make_bot_message("answer", chat_id=user_id, message_id=answer.message_id)
        return make_callback_query_update(self.rng.choice(data), message=message, user_id=user_id)

    async def _ask(self, key: tuple[Any, ...], update: JSONDict) -> ApiCall | None:
        pending = _Pending(time.monotonic(), self.loop.create_future())
        self.pending[key] = pending
        self.first_push = self.first_push or pending.started
        self.server.push_update(update)
        try:
            return await asyncio.wait_for(pending.future, REPLY_TIMEOUT)
        except TimeoutError:
            self.pending.pop(key, None)
            self.lost += 1
            return None

    def _heard(self, call: ApiCall) -> None:
        """In the server's thread: hand the call to the loop."""
        self.loop.call_soon_threadsafe(self._on_call, call)

    def _on_call(self, call: ApiCall) -> None:
        if call.status not in (200, DROP.status):
            return  # a failed attempt: the bot retries it
        params = call.params
        if call.method == "sendMessage":
            chat_id = int(params["chat_id"])
            if chat_id > 0:
                key: tuple[Any, ...] = ("chat", chat_id)
            else:
                key = ("reply", chat_id, params["reply_parameters"]["message_id"])
            if str(params.get("text", "")).startswith("Sorry"):
                self.apologies += 1
        elif call.method == "answerInlineQuery":
            key = ("inline", params["inline_query_id"])
        elif call.method == "answerCallbackQuery":
            key = ("callback", params["callback_query_id"])
        else:
            return
        pending = self.pending.pop(key, None)
        if pending is None:
            if key in self.replied:
                self.duplicates += 1
            else:
                self.unexpected += 1
            return
        self.replied.add(key)
        self.answered += 1
        self.last_reply = call.at
        self.latencies.append(call.at - pending.started)
        pending.future.set_result(call)
        if (event := self.milestones.get(self.answered)) is not None:
            event.set()


def _rss_mb(pid: int, field_name: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _hold_write_lock(database: Path, seconds: float) -> None:
    """Another connection takes the database's write lock for ``seconds``, as a backup would."""
    with closing(sqlite3.connect(database, timeout=30, isolation_level=None)) as conn:
        conn.execute("BEGIN IMMEDIATE")
        time.sleep(seconds)
        conn.execute("ROLLBACK")


def _percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


async def soak(config: SoakConfig) -> SoakReport:
    """Run one soak; the bot is stopped (SIGINT) at the end, whatever happens."""
    rng = random.Random(config.seed)
    chaos = Chaos(config, rng)
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp, FakeBotApiServer() as server:
        data_dir, log_path = Path(tmp) / "data", Path(tmp) / "bot.log"
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "DATA_DIR": str(data_dir),
            "RATE_LIMIT": str(config.rate_limit),
            "NO_PROXY": "127.0.0.1",
            "no_proxy": "127.0.0.1",
        }
        args = ["serve", "--corpus", str(config.corpus), "--base-url", server.base_url]
        with log_path.open("w") as log:
            bot = subprocess.Popen(
                [sys.executable, "-m", "bot", *args], cwd=REPO, env=env, stderr=log
            )
            try:
                await server.wait_for_call("getUpdates", timeout=config.start_timeout)
                users = Users(server, config, rng)
                server.chaos = chaos
                report = await asyncio.wait_for(
                    _run(config, users, bot.pid, data_dir / FILENAME, rng), config.timeout
                )
            finally:
                bot.send_signal(signal.SIGINT)
                bot.wait(timeout=60)
        lines = log_path.read_text().splitlines()
        if config.log is not None:
            config.log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return SoakReport(
        **{
            **asdict(report),
            "faults": dict(chaos.injected),
            "log_warnings": sum(" WARNING " in line for line in lines),
            "log_errors": sum(" ERROR " in line for line in lines),
        }
    )


async def _run(
    config: SoakConfig, users: Users, pid: int, database: Path, rng: random.Random
) -> SoakReport:
    mark = min(MEMORY_MARK, config.total)
    first_thousand = users.at(mark)
    turns = [config.total // config.users] * config.users
    for i in range(config.total % config.users):
        turns[i] += 1
    # Not near the end, so that every lock is held and let go while users still ask.
    lock_points = sorted(
        rng.sample(range(config.total // 10, config.total * 8 // 10), config.locks)
    )
    lock_events = [users.at(point) for point in lock_points]
    locked = 0

    async def lock_database() -> None:
        nonlocal locked
        for event in lock_events:
            await event.wait()
            locked += 1
            await asyncio.to_thread(_hold_write_lock, database, config.lock_seconds)

    async def sample_memory() -> float:
        await first_thousand.wait()
        return _rss_mb(pid)

    cpu_start, harness_start = _cpu_seconds(pid), time.process_time()
    locker = asyncio.create_task(lock_database())
    sampler = asyncio.create_task(sample_memory())
    await asyncio.gather(*(users.user(uid, n) for uid, n in enumerate(turns, start=1) if n))
    await asyncio.sleep(1.0)  # late duplicates would arrive now
    locker.cancel()
    rss_first = sampler.result() if sampler.done() else 0.0
    sampler.cancel()
    seconds = max(users.last_reply - users.first_push, 1e-9)
    return SoakReport(
        asked=config.total,
        answered=users.answered,
        lost=users.lost,
        duplicates=users.duplicates,
        unexpected=users.unexpected,
        apologies=users.apologies,
        seconds=round(seconds, 2),
        throughput=round(users.answered / seconds, 1),
        p50_ms=round(1000 * _percentile(users.latencies, 0.5), 1),
        p99_ms=round(1000 * _percentile(users.latencies, 0.99), 1),
        peak_rss_mb=round(_rss_mb(pid, "VmHWM"), 1),
        rss_first_mb=round(rss_first, 1),
        rss_last_mb=round(_rss_mb(pid), 1),
        bot_cpu_seconds=round(_cpu_seconds(pid) - cpu_start, 2),
        harness_cpu_seconds=round(time.process_time() - harness_start, 2),
        locks=locked,
    )


def _questions(path: Path) -> tuple[str, ...]:
    with path.open(encoding="utf-8") as lines:
        return tuple(json.loads(line)["text"] for line in lines if line.strip())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    parser.add_argument("--data", type=Path, default=SQUAD, help="BEIR-like folder (SQuAD)")
    parser.add_argument("--questions", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--rate-limit", type=int, default=0, help="0: off; 30: Telegram's")
    parser.add_argument("--faults", type=int, default=5, help="of each kind")
    parser.add_argument("--locks", type=int, default=2)
    parser.add_argument("--lock-seconds", type=float, default=2.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--json", type=Path, help="also write the report here")
    parser.add_argument("--log", type=Path, help="keep the bot's log here")
    args = parser.parse_args(argv)
    config = SoakConfig(
        corpus=args.data / "corpus.jsonl",
        questions=_questions(args.data / "queries.jsonl"),
        total=args.questions,
        users=args.users,
        groups=args.groups,
        rate_limit=args.rate_limit,
        faults=args.faults,
        locks=args.locks,
        lock_seconds=args.lock_seconds,
        seed=args.seed,
        timeout=args.timeout,
        log=args.log,
    )
    report = asyncio.run(soak(config))
    figures = {**asdict(report), "growth": round(report.growth, 4)}
    figures["exactly_once"] = report.exactly_once
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0 if report.exactly_once else 1


if __name__ == "__main__":
    sys.exit(main())
