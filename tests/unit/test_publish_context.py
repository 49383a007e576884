"""PublishContext.save_while: a platform id saved while a read goes side by side."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support.platform_fakes import make_ctx, make_post, saver

from studio_publish.platforms.base import PlatformError


def test_the_read_and_the_save_overlap_and_both_are_done_on_return() -> None:
    ctx = make_ctx(make_post())
    order: list[str] = []
    store = saver(ctx)
    save_ids = store.save_ids

    async def slow_save(ids: dict[str, Any]) -> None:
        order.append("save started")
        await asyncio.sleep(0.05)
        await save_ids(ids)
        order.append("save done")

    store.save_ids = slow_save  # type: ignore[method-assign]

    async def read() -> str:
        order.append("read started")
        await asyncio.sleep(0.01)
        order.append("read done")
        return "https://example.test/p/1"

    async def main() -> str:
        return await ctx.save_while(read(), media_id="1790")

    assert asyncio.run(main()) == "https://example.test/p/1"
    assert order == ["save started", "read started", "read done", "save done"]
    assert ctx.saved_ids == {"media_id": "1790"} and store.keys() == ["media_id"]


def test_a_failed_save_cancels_the_read_and_is_raised() -> None:
    ctx = make_ctx(make_post())
    finished: list[str] = []

    async def read() -> str:
        await asyncio.sleep(5)
        finished.append("read")
        return "never"

    async def main() -> None:
        # An id that is not shaped like one is never saved (nor used).
        await ctx.save_while(read(), media_id="../me")

    with pytest.raises(PlatformError, match="unusable"):
        asyncio.run(main())
    assert finished == [] and ctx.saved_ids == {}
