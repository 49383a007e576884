"""Looking again at a long-running platform job (a container, an upload) until it settles.

A client does not decide how long it may wait: whoever runs it does. The engine hands each
post a :data:`ProcessingWait` (``PublishContext.processing_wait``) that gives the post's
concurrency slot back while it sleeps and answers False once the run's budget cannot hold
another look; the client then raises ``Decision.WAIT`` with its saved ids kept, and a later
run resumes from them. Without one (a client used on its own), :func:`bounded_wait` waits
up to ``POLL_TIMEOUT_SECONDS``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

# Sleep ``seconds`` before the next look at a job; False: do not look again now, hand back.
ProcessingWait = Callable[[float], Awaitable[bool]]


def bounded_wait(timeout: float) -> ProcessingWait:
    """A wait that sleeps while ``timeout`` seconds (from now) allow the next look."""
    deadline = time.monotonic() + timeout

    async def wait(seconds: float) -> bool:
        if time.monotonic() + seconds > deadline:
            return False
        await asyncio.sleep(seconds)
        return True

    return wait


async def poll(
    read: Callable[[], Awaitable[T]],
    settled: Callable[[T], bool],
    *,
    interval: float,
    wait: ProcessingWait,
    current: T | None = None,
) -> T | None:
    """Look again (``read``) after each ``interval`` until ``settled`` holds or ``wait`` says
    stop; returns the last value read, or ``current``.

    ``current`` is what the caller already read (None: nothing yet, as for a job just
    started, so the first look waits an interval too). The caller checks ``settled`` on the
    result: None or an unsettled value means the wait ran out.
    """
    value = current
    while value is None or not settled(value):
        if not await wait(interval):
            break
        value = await read()
    return value


def processing_wait(explicit: ProcessingWait | None, timeout: float) -> ProcessingWait:
    """The wait to use: the engine's when it gave one, else up to ``timeout`` seconds."""
    return explicit if explicit is not None else bounded_wait(timeout)
