"""A fake platform for engine tests, behind the same interface as the real clients.

It keeps a ledger of what "went live" in a file (one line per publish, appended with
O_APPEND so several processes can share it), and can be told to fail in each documented
way or to kill its own process at a chosen line, to prove crash safety.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from studio_publish.domain import Account, Published, TokenGrant
from studio_publish.platforms.base import (
    Decision,
    PlatformError,
    PublishContext,
    ReconcileStatus,
    Reconciliation,
)


def read_ledger(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line for line in path.read_text().splitlines() if line]


def duplicates(path: Path) -> dict[str, int]:
    return {post: n for post, n in Counter(read_ledger(path)).items() if n > 1}


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class FakePlatform:
    name: str
    ledger: Path
    delay: float = 0.0
    # Errors raised by publish, in order, one per call; None means succeed.
    errors: list[PlatformError | None] = field(default_factory=list)
    prepare_errors: list[PlatformError | None] = field(default_factory=list)
    # die_after_claim | die_after_save | die_after_accept | lose_response
    crash: str | None = None
    refreshable: bool = False
    refresh_error: PlatformError | None = None
    # What a refresh answers as the new access token ("{n}": the refresh's number).
    refreshed_token: str = "refreshed-{n}"
    reconcile_override: ReconcileStatus | None = None
    calls: Counter[str] = field(default_factory=Counter)
    tokens_seen: list[str] = field(default_factory=list)

    @property
    def can_refresh_tokens(self) -> bool:
        return self.refreshable

    def live(self) -> list[str]:
        return read_ledger(self.ledger)

    async def prepare(self, ctx: PublishContext) -> None:
        self.calls["prepare"] += 1
        self.tokens_seen.append(ctx.account.access_token)
        if self.crash == "die_after_claim":
            die()
        if self.prepare_errors:
            error = self.prepare_errors.pop(0)
            if error:
                raise error

    async def publish(self, ctx: PublishContext) -> Published:
        self.calls["publish"] += 1
        self.tokens_seen.append(ctx.account.access_token)
        if self.delay:
            await asyncio.sleep(self.delay)
        # Like the real clients: a marker saved before the irreversible call.
        await ctx.save(fake_sent=True, fake_attempt=ctx.post.attempt)
        if self.crash == "die_after_save":
            die()
        if self.errors:
            error = self.errors.pop(0)
            if error:
                raise error
        with self.ledger.open("a") as ledger:
            ledger.write(ctx.post.id + "\n")
        if self.crash == "die_after_accept":
            die()
        if self.crash == "lose_response":
            raise httpx.ReadTimeout("the response was lost")
        return Published(f"fake-{ctx.post.id}", f"https://fake.example/{ctx.post.id}")

    async def reconcile(self, ctx: PublishContext) -> Reconciliation:
        self.calls["reconcile"] += 1
        if self.reconcile_override is not None:
            return Reconciliation(self.reconcile_override, reason="told so")
        if ctx.post.id in self.live():
            published = Published(f"fake-{ctx.post.id}", f"https://fake.example/{ctx.post.id}")
            return Reconciliation(ReconcileStatus.LIVE, published, reason="in the ledger")
        return Reconciliation(ReconcileStatus.NOT_LIVE, reason="not in the ledger")

    async def refresh_token(self, account: Account, http: httpx.AsyncClient) -> TokenGrant:
        self.calls["refresh"] += 1
        if self.refresh_error:
            raise self.refresh_error
        import datetime as dt

        return TokenGrant(
            access_token=self.refreshed_token.format(n=self.calls["refresh"]),
            refresh_token=f"rotated-{self.calls['refresh']}",
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(hours=2),
        )


def error(decision: Decision, message: str = "boom", **kw: object) -> PlatformError:
    return PlatformError(decision, message, **kw)  # type: ignore[arg-type]
