"""Writes of the posts in flight, sent together: one statement for many posts.

Every post in flight saves its platform ids as they arrive and records its outcome at the
end. Sent one by one, each write is a round trip and a commit: with 64 posts in flight that
was half of the engine's CPU and most of PostgreSQL's (README.md, Performance,
"CPU per call"). A Batcher sends whatever queued up while its previous statement ran as one
statement (its query reads its rows from one JSON array, an object a post), and wakes each
waiting post with its own answer. Nothing waits to fill a batch: a write that finds a
statement free goes at once, so a lone post pays nothing, and each post still waits for its
write to be committed before it goes on (its ids are saved before its next call that could make
the post live). Up to SENDERS statements of a query run at once, on connections of their
own: with one, a write arriving while a statement ran waited for it to end and then for its
own, twice a statement's time on the path of every post (README.md, Performance). Two
statements never touch the same post: a post waits for its write before its next one.

When the statement fails on one row (a unique violation, say), each post's write is sent
again alone, so the error reaches the post it concerns and no other. A lost database fails
every write in the batch, as it would have failed each.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import psycopg

from studio_publish.store.pool import ConnectionPool
from studio_publish.store.queries import query

PostRow = dict[str, Any]  # one post's values, by the names of the query's row columns
# Statements of one query in flight at once (each on a connection of the pool).
SENDERS = 2


def as_params(rows: list[PostRow], shared: dict[str, Any] | None = None) -> dict[str, Any]:
    """The query's parameters for ``rows``: ``rows`` as one JSON array (a single parameter,
    which the query turns into rows with jsonb_to_recordset: cheaper to send than an array a
    column), plus the parameters every row shares."""
    return {**(shared or {}), "rows": json.dumps(rows, default=str)}


class Batcher:
    """One query's writes, batched. Each row's ``id`` names its post; the query returns the
    ``id`` of each post it changed (whose claim still held)."""

    def __init__(self, pool: ConnectionPool, name: str, shared: dict[str, Any]) -> None:
        self._pool = pool
        self._name = name
        self._shared = shared
        self._queue: list[tuple[PostRow, asyncio.Future[bool]]] = []
        # Counted by the senders themselves, not by their tasks' ends: a task's end is told
        # a step later, and a write arriving in between would find no sender to take it.
        self._sending = 0
        self._senders: set[asyncio.Task[None]] = set()  # held, so none is collected mid-way

    async def write(self, row: PostRow) -> bool:
        """Send one post's row, with whatever else is queued; True when the post changed."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((row, future))
        if self._sending < SENDERS:
            self._sending += 1
            sender = asyncio.create_task(self._send_queued())
            self._senders.add(sender)
            sender.add_done_callback(self._senders.discard)
        return await future

    async def _send_queued(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                await self._send(batch)
        finally:
            self._sending -= 1  # with nothing queued: no await between the check and this

    async def _send(self, batch: list[tuple[PostRow, asyncio.Future[bool]]]) -> None:
        try:
            changed = await self._execute([row for row, _ in batch])
        except psycopg.OperationalError as exc:  # the database is gone: every write fails
            _fail(batch, exc)
        except psycopg.Error as exc:
            if len(batch) == 1:
                _fail(batch, exc)
            else:  # one row's fault: each alone, so only that post hears of it
                for item in batch:
                    await self._send([item])
        except asyncio.CancelledError:  # the run is ending: nobody must wait forever
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # a bug: each waiting post hears of it
            _fail(batch, exc)
        else:
            for row, future in batch:
                if not future.done():
                    future.set_result(str(row["id"]) in changed)

    async def _execute(self, rows: list[PostRow]) -> set[str]:
        async with self._pool.connection() as conn:
            cursor = await conn.execute(query(self._name), as_params(rows, self._shared))
            return {str(found["id"]) for found in await cursor.fetchall()}


def _fail(batch: list[tuple[PostRow, asyncio.Future[bool]]], error: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)
