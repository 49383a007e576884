"""Polling a platform until a long-running job settles, within the configured bounds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def poll(
    read: Callable[[], Awaitable[T]],
    settled: Callable[[T], bool],
    *,
    interval: float,
    timeout: float,
) -> T:
    """Call ``read`` until ``settled`` holds or ``timeout`` seconds pass; returns the last value.

    The caller checks ``settled`` on the result: a value that is still unsettled means the
    time ran out, and what that means differs by platform.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = await read()
        if settled(value) or time.monotonic() + interval > deadline:
            return value
        await asyncio.sleep(interval)
