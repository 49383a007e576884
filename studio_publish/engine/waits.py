"""Waiting is not working: posts whose media the platform is still processing hold no slot.

A client waiting on a container or an upload calls the run's wait between two looks (see
platforms/polling.py). While the post sleeps it does not count against
``STUDIO_PUBLISH_CONCURRENCY``: the claim loop is woken to give its slot to another post. When
it wakes, its one look (a status GET) and, once ready, its publish run beside the slots, so
a run may briefly have more than that many calls in flight; the waits are what is bounded.

A wait that the run's budget cannot hold answers False: the client hands the post back
(``Decision.WAIT``, no attempt used, its saved ids kept, due again at its next look) and the
next run resumes it. So ``run-due`` does not outlive its budget for processing, only for calls
already in flight.
"""

from __future__ import annotations

import asyncio
import time


class ProcessingWaits:
    """The waits of one run whose budget ends at ``deadline`` (``time.monotonic()``)."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.sleeping = 0  # posts between two looks: they hold no slot
        # Set when a post starts sleeping while every slot was taken: the claim loop wakes.
        self.slot_freed = asyncio.Event()
        self.slots_full = False  # kept by the claim loop

    async def wait(self, seconds: float) -> bool:
        """Sleep ``seconds`` without holding a slot; False when the budget cannot hold it."""
        if time.monotonic() + seconds > self.deadline:
            return False
        self.sleeping += 1
        if self.slots_full:
            self.slot_freed.set()
        try:
            await asyncio.sleep(seconds)
        finally:
            self.sleeping -= 1
        return True


async def no_wait(seconds: float) -> bool:
    """For a rescue, which takes posts up before the claim loop: hand back at once."""
    return False
