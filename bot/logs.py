"""Logging for the command line: one format, and no secret in any record.

The bot token is a password, yet it sits in every Bot API URL (``…/bot<token>/sendMessage``), and
libraries put it in their own records: PTB logs ``Set Bot API URL: …/bot<token>`` at DEBUG and
names a rejected token in ``InvalidToken``; httpx logs request URLs at INFO and its exceptions
carry them. The webhook's secret is a password too, and PTB logs the ``setWebhook`` call that
carries it at DEBUG. Silencing loggers one by one would miss the next library, so
:class:`Redactor` sits on the root handlers and rewrites every record that reaches them, whichever
logger and level it came from: the formatted message, the exception text and the stack.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable

MASK = "<token>"
# A failure that keeps happening (the network is down) is logged once a minute, with a count.
THROTTLE_SECONDS = 60.0
# telegram.error's passing failures: the network, flood control, another poller.
PASSING_FAILURES = frozenset({"NetworkError", "RetryAfter", "Conflict"})

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class Redactor(logging.Filter):
    """A handler filter that replaces each secret by :data:`MASK` in every record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Longest first, so the whole token is masked before the part of it that is a secret.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        # Only formats exceptions and stacks: the handler's own formatter still formats the rest.
        self._formatter = logging.Formatter()

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets:
            return True
        # The message is formatted here once; args are dropped so no handler formats them again.
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # arguments that don't fit the format: keep both
            message = f"{record.msg} {record.args!r}"
        record.msg = self.redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class Throttle:
    """Lets one log line of each kind through every ``interval`` seconds, and counts the rest."""

    def __init__(
        self, interval: float = THROTTLE_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def __call__(self, kind: str) -> int | None:
        """None to stay silent; else how many lines of this kind were skipped since the last."""
        now = self._clock()
        last = self._last.get(kind)
        if last is not None and now - last < self._interval:
            self._skipped[kind] = self._skipped.get(kind, 0) + 1
            return None
        self._last[kind] = now
        return self._skipped.pop(kind, 0)


class OneLineFailures(logging.Filter):
    """A handler filter: a record carrying a passing failure of the network or of Telegram is
    one line, its message and the error's, without the traceback.

    The bot retries such failures and reports the ones that last (bot.tg.retry, the error
    handler); PTB logs some of them itself with a traceback (a rate limit hit too often, a poll
    failing at shutdown). Installed above DEBUG only: at DEBUG every traceback is shown.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None and _passing(error):
            record.msg = f"{record.getMessage()}: {type(error).__name__}: {error}"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def _passing(error: BaseException) -> bool:
    """Whether ``error`` is a network or Telegram failure that passes (not a 400: a bug).

    By class name, so that every command need not import Telegram to log.
    """
    names = {cls.__name__ for cls in type(error).__mro__}
    return bool(names & PASSING_FAILURES) and "BadRequest" not in names


def token_secrets(token: str | None) -> list[str]:
    """What to hide of a bot token: all of it (also URL-encoded), and its secret half after the
    bot id."""
    if not token:
        return []
    _, _, secret = token.partition(":")
    whole = [token, token.replace(":", "%3A"), token.replace(":", "%3a")]
    return [*whole, secret] if len(secret) >= 8 else whole


def configure_logging(level: str, secrets: Iterable[str]) -> Redactor:
    """Log to standard error at ``level``, with ``secrets`` masked in every record."""
    logging.basicConfig(format=FORMAT, level=level, stream=sys.stderr)
    redactor = Redactor(secrets)
    for handler in logging.getLogger().handlers:
        if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
            handler.addFilter(OneLineFailures())  # first: the redactor masks what it writes
        handler.addFilter(redactor)
    # httpx logs every request at INFO: masked now, but one line per Bot API call is noise.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # The job queue's scheduler logs each run of the feed and corpus jobs at INFO (and a job added
    # before it starts): noise as well; the jobs log what they changed themselves.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return redactor
