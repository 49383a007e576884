"""A small pool of async connections for the engine.

Each caller holds a connection exclusively while it uses it, so a transaction (the token
refresh's row lock) never interleaves with another post's statements.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg

from studio_publish.store.db import DatabaseTarget, Row, connect_async


class ConnectionPool:
    def __init__(self, target: DatabaseTarget, size: int) -> None:
        self._target = target
        self._size = size
        self._idle: asyncio.Queue[psycopg.AsyncConnection[Row]] = asyncio.Queue()
        self._all: list[psycopg.AsyncConnection[Row]] = []
        self._opening = 0  # connections being opened: they count against the size already

    async def open(self) -> None:
        # One connection up front: an unreachable database fails the run at once.
        await self._add()

    async def _add(self) -> None:
        conn = await connect_async(self._target, application_name="studio-publish run")
        self._all.append(conn)
        self._idle.put_nowait(conn)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Row]]:
        if self._idle.empty() and len(self._all) + self._opening < self._size:
            self._opening += 1
            try:
                await self._add()
            finally:
                self._opening -= 1
        conn = await self._idle.get()
        try:
            yield conn
        finally:
            if conn.closed or conn.broken:
                self._all.remove(conn)
            else:
                self._idle.put_nowait(conn)

    async def close(self) -> None:
        for conn in self._all:
            await conn.close()
        self._all.clear()
