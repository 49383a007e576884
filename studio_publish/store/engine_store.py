"""The engine's reads and writes, each a named, guarded query from sql/engine.sql."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from studio_publish.domain import Account, Media, Post, Quota
from studio_publish.states import Move, PostState, Transition, guard
from studio_publish.store.batch import Batcher, PostRow, as_params
from studio_publish.store.db import Row
from studio_publish.store.pool import ConnectionPool
from studio_publish.store.queries import query

if TYPE_CHECKING:  # the checked content of a row; the store only carries it
    from studio_publish.scheduling.validation import StoredPost

# A claim that met another run's claim asks again, after a pause that grows, this many
# times: that claim held accounts this one wanted (its locks last a claim transaction, a few
# milliseconds), or had just claimed the posts of accounts this one then locked. A run that
# took the answer "nothing" would end with posts left that it could have taken.
CONTENDED_RETRIES = 3
CONTENDED_PAUSE_SECONDS = 0.02

# Which move records a claimed post's next state.
_MOVE_TO = {
    PostState.POSTED: Move.POST,
    PostState.SCHEDULED: Move.RETRY_LATER,
    PostState.FAILED: Move.FAIL,
    PostState.NEEDS_REVIEW: Move.FAIL,
}


def finish_row(post_id: str, claim_token: str, transition: Transition) -> PostRow:
    """One post's row of the finish_attempt query for ``transition``."""
    state = transition.state
    assert state is not None, f"{transition.outcome} is not recorded on the post"
    published = transition.published
    move = guard(_MOVE_TO[state])
    return {
        "id": post_id,
        "claim": claim_token,
        "from_states": move["from_states"],
        "to_states": move["to_states"],
        "to_state": str(state),
        "outcome": str(transition.outcome),
        "reason": str(transition.reason) if transition.reason else None,
        "error": transition.message or None,
        "error_class": transition.error_class,
        "http_status": transition.http_status,
        "delay_seconds": float(transition.delay_seconds),
        "give_back": transition.give_back_attempt,
        "platform_post_id": published.platform_post_id if published else None,
        "permalink": published.permalink if published else None,
        "platform_ids": {"platform_post_id": published.platform_post_id} if published else {},
    }


def finish_params(post_id: str, claim_token: str, transition: Transition) -> dict[str, Any]:
    """The parameters of the finish_attempt query for one post's ``transition``."""
    return as_params([finish_row(post_id, claim_token, transition)])


class LeaseLost(Exception):
    """The post's claim is gone (its lease ran out and another run took it over)."""


@dataclass(frozen=True)
class Claim:
    """A post this run holds: every write about it is fenced by ``token``."""

    post_id: str
    token: str
    attempt: int
    account_id: str
    row: Row
    # The post's account as read with the claim (None: not read yet, or there is none).
    account_row: Row | None = None
    # Whether its account had due posts the claim left for later (account_concurrency):
    # its end makes room for one of them. Unknown (True) for a claim of one post.
    more_due: bool = True

    @property
    def db_now(self) -> Any:
        """The database's clock when the post was claimed (the claim stamps updated_at)."""
        return self.row["updated_at"]

    def to_post(self, content: StoredPost) -> Post:
        """The post a client is given: the row's content after validation.check_stored_post."""
        return Post(
            id=self.post_id,
            platform=self.row["platform"],
            post_type=content.post_type,
            caption=content.caption,
            media=tuple(Media(url=url, kind=kind) for url, kind in content.media),
            options=content.options,
            attempt=self.attempt,
            attempt_started_at=self.row["attempt_started_at"],
        )


def claim_from_row(row: Row, accounts: dict[str, Row] | None = None) -> Claim:
    account_id = str(row["social_account_id"])
    more_due = bool(row.pop("more_due", True))  # a fact of the claim, not of the post
    return Claim(
        post_id=str(row["id"]),
        token=str(row["claim_token"]),
        attempt=row["attempt_count"],
        account_id=account_id,
        row=row,
        account_row=(accounts or {}).get(account_id),
        more_due=more_due,
    )


def claim_accounts(found: list[Row]) -> dict[str, Any]:
    """claim_due_posts' parameters from what lock_due_accounts found: the accounts locked
    for this claim, and the account ids of due posts that name no account."""
    orphans = [r["account_id"] for r in found if r["orphan"]]
    return {
        "accounts": [r["account_id"] for r in found if r["orphan"] is False],
        "orphans": bool(orphans),
        "orphan_ids": [i for i in orphans if i is not None],
    }


def account_from_row(row: Row) -> Account:
    return Account(
        id=str(row["id"]),
        platform=row["platform"],
        platform_account_id=row["platform_account_id"],
        access_token=row["access_token"] or "",
        refresh_token=row["refresh_token"],
        token_expires_at=row["token_expires_at"],
        options=row["options"] or {},
    )


@dataclass(frozen=True)
class ClaimIds:
    """The saved ids of one claimed post, kept by the store and fenced by its claim."""

    store: EngineStore
    claim: Claim

    async def save_ids(self, ids: dict[str, Any]) -> None:
        await self.store.save_ids(self.claim, ids)


class EngineStore:
    def __init__(
        self,
        pool: ConnectionPool,
        *,
        lease_seconds: int,
        worker: str,
        account_concurrency: int = 1,
    ) -> None:
        self.pool = pool
        self.lease_seconds = lease_seconds
        self.worker = worker
        self.account_concurrency = account_concurrency
        # The posts in flight save ids and record outcomes together (store/batch.py).
        self._saves = Batcher(pool, "save_platform_ids", {"lease_seconds": lease_seconds})
        self._finishes = Batcher(pool, "finish_attempt", {})

    async def _all(self, name: str, params: dict[str, Any]) -> list[Row]:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(query(name), params)
            return await cursor.fetchall() if cursor.description else []

    async def _one(self, name: str, params: dict[str, Any]) -> Row | None:
        rows = await self._all(name, params)
        return rows[0] if rows else None

    # runs

    async def start_run(self, *, host: str, pid: int, command: str) -> int:
        row = await self._one("start_run", {"host": host, "pid": pid, "command": command})
        assert row is not None
        run_id: int = row["id"]
        return run_id

    async def finish_run(self, run_id: int, **counts: Any) -> None:
        await self._all("finish_run", {"id": run_id, **counts})

    # claiming

    async def mark_missed(self, max_lateness: int, only_ids: list[str] | None) -> list[Row]:
        return await self._all(
            "mark_missed",
            {**guard(Move.MISS), "max_lateness": max_lateness, "only_ids": only_ids},
        )

    async def claim_due(self, limit: int, run_id: int, only_ids: list[str] | None) -> list[Claim]:
        """Up to ``limit`` due posts, at most ``account_concurrency`` of each account in flight
        (counting every run's), accounts interleaved, each account's in scheduled_for order.

        Two statements in one transaction: the first locks the accounts (so a concurrent run
        skips them), the second, with a snapshot taken after the locks are held, counts what
        is in flight and claims. The transaction holds no HTTP call: it ends here. When
        another run's claim got in its way (``_claim_once``), it asks again a moment later
        (CONTENDED_RETRIES).
        """
        params = {
            **guard(Move.CLAIM),
            "limit": limit,
            "worker": self.worker,
            "lease_seconds": self.lease_seconds,
            "run_id": run_id,
            "only_ids": only_ids,
            "account_concurrency": self.account_concurrency,
        }
        claims: list[Claim] = []
        for retry in range(CONTENDED_RETRIES + 1):
            if retry:
                await asyncio.sleep(CONTENDED_PAUSE_SECONDS * retry)
            taken, contended = await self._claim_once({**params, "limit": limit - len(claims)})
            claims += taken
            if not contended or len(claims) >= limit:
                break
        return claims

    async def _claim_once(self, params: dict[str, Any]) -> tuple[list[Claim], bool]:
        """One claim transaction; and whether another claim got in its way.

        Two ways: it held accounts this one wanted (lock_due_accounts says so), or it
        committed while lock_due_accounts ran, after that statement's snapshot and before
        its locks. The accounts it had just claimed then looked free and were locked here,
        and claim_due_posts, which sees that claim, found no room in them. Both runs order
        the accounts alike, so the two meet on the same ones: in a 10,000-post run of two
        processes, one of them found nothing this way in about one run in five, and ended
        after ten seconds with the other left all the work (bench/README.md, "punctual").
        Asked again, a new snapshot sees that claim and takes other accounts.
        """
        async with self.pool.connection() as conn, conn.transaction():
            found = await (await conn.execute(query("lock_due_accounts"), params)).fetchall()
            contended = any(r["orphan"] is None for r in found)
            params.update(claim_accounts(found))
            cursor = await conn.execute(query("claim_due_posts"), params)
            rows = await cursor.fetchall()
            if len(rows) < params["limit"]:
                claimed = {r["social_account_id"] for r in rows}
                contended = contended or any(a not in claimed for a in params["accounts"])
            accounts: dict[str, Row] = {}
            if rows:  # their accounts, in the same round trip's transaction
                ids = sorted({str(r["social_account_id"]) for r in rows if r["social_account_id"]})
                read = await conn.execute(query("get_accounts_for_publish"), {"ids": ids})
                accounts = {str(a["id"]): a for a in await read.fetchall()}
        return [claim_from_row(r, accounts) for r in rows], contended

    async def release(self, claims: list[Claim]) -> int:
        """Give back claims taken ahead and never started; how many were still ours."""
        if not claims:
            return 0
        rows = await self._all(
            "release_claims", {**guard(Move.RELEASE), "claims": [c.token for c in claims]}
        )
        return len(rows)

    async def claim_now(self, post_id: str, run_id: int) -> Claim | None:
        row = await self._one(
            "claim_post_now",
            {
                **guard(Move.PUBLISH_NOW),
                "id": post_id,
                "worker": self.worker,
                "lease_seconds": self.lease_seconds,
                "run_id": run_id,
            },
        )
        return claim_from_row(row) if row else None

    async def claim_abandoned(self, limit: int) -> list[Claim]:
        rows = await self._all(
            "claim_abandoned",
            {"limit": limit, "worker": self.worker, "lease_seconds": self.lease_seconds},
        )
        return [claim_from_row(r) for r in rows]

    async def renew_leases(self, tokens: list[str]) -> None:
        if tokens:
            await self._all("renew_leases", {"claims": tokens, "lease_seconds": self.lease_seconds})

    async def account(self, account_id: str) -> Row | None:
        return await self._one("get_accounts_for_publish", {"ids": [account_id]})

    # writes fenced by the claim

    async def save_ids(self, claim: Claim, ids: dict[str, Any]) -> None:
        if not await self._saves.write({"id": claim.post_id, "claim": claim.token, "doc": ids}):
            raise LeaseLost(claim.post_id)

    async def finish(self, claim: Claim, transition: Transition) -> bool:
        """Record what became of a claimed post: one statement, fenced by the claim.

        False when the claim is gone (another run took the post over): nothing changed.
        """
        return await self._finishes.write(finish_row(claim.post_id, claim.token, transition))

    async def record_late_outcome(self, claim: Claim, note: str, ids: dict[str, Any]) -> None:
        await self._all(
            "record_late_outcome",
            {
                "id": claim.post_id,
                "attempt": claim.attempt,
                "note": note,
                "ids": json.dumps(ids, default=str),
            },
        )

    async def mark_account_needs_reauth(self, account_id: str, reason: str) -> bool:
        row = await self._one("mark_account_needs_reauth", {"id": account_id, "reason": reason})
        return row is not None

    # first comments (engine/comments.py), fenced by the comment's own claim

    async def claim_due_comments(self, limit: int, only_ids: list[str] | None) -> list[Row]:
        return await self._all(
            "claim_due_comments",
            {"limit": limit, "only_ids": only_ids, "lease_seconds": self.lease_seconds},
        )

    async def save_comment_state(
        self, post_id: str, claim: str, ids: dict[str, Any], *, sent: bool
    ) -> None:
        row = await self._one(
            "save_comment_state",
            {
                "id": post_id,
                "claim": claim,
                "ids": json.dumps(ids, default=str),
                "sent": sent,
                "lease_seconds": self.lease_seconds,
            },
        )
        if row is None:
            raise LeaseLost(post_id)

    async def finish_comment(self, post_id: str, claim: str, params: dict[str, Any]) -> bool:
        """Record what became of a claimed comment; False when the claim is gone."""
        return (
            await self._one("finish_comment", {"id": post_id, "claim": claim, **params}) is not None
        )

    # preflight (engine/preflight.py)

    async def preflight_candidates(
        self, window_seconds: float, limit: int, counted_types: dict[str, list[str]]
    ) -> list[Row]:
        params = {
            "window_seconds": window_seconds,
            "limit": limit,
            "counted_types": json.dumps(counted_types),
        }
        return await self._all("preflight_candidates", params)

    async def record_preflight(self, post_id: str, problems: str) -> None:
        await self._all("record_preflight", {"post_id": post_id, "problems": problems})

    async def count_posted_in_window(
        self, account_id: str, post_id: str, post_types: frozenset[str], window_seconds: float
    ) -> tuple[int, float | None]:
        """The account's other posts of these types live in the window or being published,
        and in how many seconds the oldest live one leaves it (see CountedQuota)."""
        rows = await self._all(
            "count_posted_in_window",
            {
                "account_id": account_id,
                "post_id": post_id,
                "post_types": sorted(post_types),
                "window_seconds": window_seconds,
            },
        )
        frees_in = rows[0]["frees_in"]
        return rows[0]["used"], None if frees_in is None else float(frees_in)

    async def save_publishing_quotas(self, quotas: dict[str, Quota]) -> None:
        """Each account's quota, by account id: one statement for the run's accounts."""
        if quotas:
            rows = [
                {"id": account_id, "quota": {"used": quota.used, "total": quota.total}}
                for account_id, quota in quotas.items()
            ]
            await self._all("save_publishing_quotas", as_params(rows))
