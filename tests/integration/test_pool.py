"""The engine's connection pool never opens more connections than its size."""

from __future__ import annotations

import asyncio

from studio_publish.store.db import DatabaseTarget
from studio_publish.store.pool import ConnectionPool


def test_many_waiters_share_at_most_size_connections(db_url: str) -> None:
    async def main() -> int:
        pool = ConnectionPool(DatabaseTarget(db_url, False, "test"), size=4)
        await pool.open()

        async def query() -> None:
            async with pool.connection() as conn:
                await conn.execute("SELECT pg_sleep(0.01)")

        try:
            await asyncio.gather(*(query() for _ in range(64)))
            return len(pool._all)
        finally:
            await pool.close()

    assert asyncio.run(main()) == 4
