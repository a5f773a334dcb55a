"""Retrying Bot API calls that failed for a passing reason, without ever sending a message twice.

Telegram's errors are of three kinds, and each is retried only as far as it is safe:

- **429 Too Many Requests** says the call was refused and when to try again (``retry_after``).
  PTB's ``AIORateLimiter(max_retries=...)`` waits that long, holding back every other call, and
  retries; :data:`RATE_LIMIT_RETRIES` bounds it.
- **5xx answers** say the server failed the call; Telegram does not carry out a call it answers
  with an error, so any method is retried, after :data:`RETRY_DELAYS`.
- **Network failures** are retried when the call provably never reached the server (no connection
  could be made, or none was free in the pool). When it may have (the connection broke, or the
  answer did not come in time), only methods that do no harm when repeated are retried: reads
  (``get…``), settings (``set…``) and edits (``edit…``, a repeat leaves the message as it is).
  Everything else, ``sendMessage`` above all, is *not* retried: Telegram has no idempotency key,
  so a second send after a lost answer shows the user the same answer twice. The failure is
  raised as :class:`MaybeDelivered` instead, and the error handler does not apologise for an
  answer the user has most likely received.

A call whose retries all failed raises the last error: then the answer is really lost, and the
error handler apologises.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import httpx
from telegram.error import NetworkError
from telegram.request import BaseRequest, RequestData

if TYPE_CHECKING:
    from telegram._utils.types import ODVInput

log = logging.getLogger(__name__)

# Waits before the second, third and fourth attempt after a 5xx or a network failure: doubling,
# so a server that is briefly down is spared a burst, and bounded at 3.5 s in all, so a question
# is answered within seconds or apologised for.
RETRY_DELAYS: tuple[float, ...] = (0.5, 1.0, 2.0)
# Telegram asks for waits of a few seconds; three in a row means it is time to give up.
RATE_LIMIT_RETRIES = 3

# Failures of a call that never left this machine: always safe to try again.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Methods that change nothing when carried out twice.
_REPEATABLE = ("get", "set", "edit")


class MaybeDelivered(NetworkError):
    """A call that may have been carried out failed, and was not repeated (see the module)."""


class WrappedRequest(BaseRequest):
    """A request that is ``inner`` but for :meth:`do_request`, which a subclass writes."""

    def __init__(self, inner: BaseRequest) -> None:
        self._inner = inner

    @property
    def read_timeout(self) -> float | None:
        return self._inner.read_timeout

    async def initialize(self) -> None:
        await self._inner.initialize()

    async def shutdown(self) -> None:
        await self._inner.shutdown()


class RetryingRequest(WrappedRequest):
    """A request that retries another one's 5xx answers and network failures, when safe."""

    def __init__(
        self,
        inner: BaseRequest,
        *,
        delays: Sequence[float] = RETRY_DELAYS,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(inner)
        self._delays = tuple(delays)
        self._sleep = sleep

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]

        async def attempt() -> tuple[int, bytes]:
            try:
                return await self._inner.do_request(
                    url,
                    method,
                    request_data,
                    read_timeout,
                    write_timeout,
                    connect_timeout,
                    pool_timeout,
                )
            except NetworkError as exc:
                if _never_sent(exc) or api_method.startswith(_REPEATABLE):
                    raise
                raise MaybeDelivered(f"{api_method} may have been carried out: {exc}") from exc

        for number, delay in enumerate(self._delays, start=1):
            try:
                code, payload = await attempt()
            except MaybeDelivered:
                raise
            except NetworkError as exc:
                reason = str(exc) or type(exc).__name__
            else:
                if code < 500:
                    return code, payload
                reason = f"HTTP {code}"
            # Routine when it works; when every attempt fails, the caller reports the failure.
            log.debug(
                "%s failed (%s), attempt %d; retrying in %.1f s", api_method, reason, number, delay
            )
            await self._sleep(delay)
        return await attempt()


def _never_sent(exc: BaseException) -> bool:
    """Whether the failure proves the call never reached the server."""
    return isinstance(exc.__cause__, _NOT_SENT)
