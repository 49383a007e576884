"""One `run-due` with a no-op platform for every network, to time the engine's own cost.

Used by bench/run.py (benchmark "overhead"); runs as a process of its own, configured the
way the CLI is (settings from the environment, JSON logs on stderr), so two of them can
work the same queue at once. Prints the run summary (counts only) as one JSON line.

The no-op platform does what the real clients do to the database and nothing else: it
saves two platform ids through ``ctx.save`` (a marker before the "irreversible" call and
the post id after it, like the Facebook text flow) and returns at once. No HTTP.

    BENCH_PROFILE=/path/out.txt  run under cProfile and write the top functions there.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import io
import json
import os
import pstats
import sys
from dataclasses import dataclass
from typing import Any

import httpx

from studio_publish import operations
from studio_publish.domain import Account, Published, TokenGrant
from studio_publish.logs import configure_logging
from studio_publish.platforms.base import (
    Decision,
    PlatformError,
    PublishContext,
    ReconcileStatus,
    Reconciliation,
)
from studio_publish.settings import load_settings
from studio_publish.store import db


@dataclass
class NoopPlatform:
    name: str

    @property
    def can_refresh_tokens(self) -> bool:
        return False

    async def prepare(self, ctx: PublishContext) -> None:
        return None

    async def publish(self, ctx: PublishContext) -> Published:
        await ctx.save(noop_sent_at=dt.datetime.now(dt.UTC).isoformat())
        post_id = f"noop-{ctx.post.id}"
        await ctx.save(noop_post_id=post_id)
        return Published(post_id, f"https://noop.example/{post_id}")

    async def reconcile(self, ctx: PublishContext) -> Reconciliation:
        return Reconciliation(ReconcileStatus.UNKNOWN, reason="no-op platform")

    async def refresh_token(self, account: Account, http: httpx.AsyncClient) -> TokenGrant:
        raise PlatformError(Decision.REAUTH, "no-op platform")


def main() -> int:
    settings = load_settings()
    configure_logging(settings.log_format)
    target = db.resolve_target(settings)
    platforms: dict[str, Any] = {p: NoopPlatform(p) for p in ("instagram", "facebook", "tiktok")}
    profile_to = os.environ.get("BENCH_PROFILE")
    profiler = cProfile.Profile() if profile_to else None
    if profiler:
        profiler.enable()
    summary = operations.run_due(settings, target, platforms=platforms)
    if profiler and profile_to:
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(40)
        with open(profile_to, "w", encoding="utf-8") as handle:
            handle.write(out.getvalue())
    data = summary.as_dict()
    data.pop("posts")
    print(json.dumps(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
