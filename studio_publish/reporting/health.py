"""`status --check`: what needs a person, as one problem a line, for monitoring systems.

Thresholds (cron runs `run-due` every minute, so five minutes is several missed runs):

* cron: no run started in the last CRON_STALE_SECONDS while posts are scheduled or
  publishing (never having run counts too). With nothing scheduled, a quiet cron is fine.
* last run: the latest run ended in ``error`` (it lost the database, for instance).
* overdue: posts due more than OVERDUE_GRACE_SECONDS ago and not held by their account.
* stuck: posts whose lease ran out more than STUCK_GRACE_SECONDS ago: the next run
  rescues them, so only lingering ones mean that runs are not happening.
* needs_review: any post in ``needs_review``: only a person can settle it.
* account: an account in ``needs_reauth``, with the posts it holds.
* token: an active account whose token expires within TOKEN_EXPIRY_WARNING_DAYS (for
  TikTok, the refresh token's expiry), or has expired.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from studio_publish.formatting import human
from studio_publish.reporting.status import (
    OVERDUE_GRACE_SECONDS,
    accounts_needing_attention,
    held_posts_by_account,
)
from studio_publish.states import PostState
from studio_publish.store import db

CRON_STALE_SECONDS = 300
# A run still unfinished this long after it started crashed or was killed: its row says
# `running` for ever. (The longest legitimate run is its budget plus uploads in flight.)
RUN_UNFINISHED_SECONDS = 1800
STUCK_GRACE_SECONDS = 300
LISTED_IDS = 10  # ids named in one problem line; the count covers the rest


@dataclass(frozen=True)
class Problem:
    check: str  # cron, last_run, overdue, stuck, needs_review, account, token
    message: str  # the line's text after "PROBLEM "
    ids: tuple[str, ...] = ()

    @property
    def line(self) -> str:
        return f"PROBLEM {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"check": self.check, "message": self.message, "ids": list(self.ids)}


@dataclass(frozen=True)
class Health:
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": [p.as_dict() for p in self.problems]}


def check_health(conn: db.Connection) -> Health:
    now = db.database_now(conn)
    return Health(
        [
            *_cron(conn, now),
            *_listed(
                conn,
                "overdue",
                "overdue",
                "due more than {minutes} minutes ago, oldest due {first}",
                OVERDUE_GRACE_SECONDS,
                "due_at",
            ),
            *_listed(
                conn,
                "stuck_publishing",
                "stuck",
                "publishing past their lease for more than {minutes} minutes, since {first}; "
                "run-due rescues them: is it running?",
                STUCK_GRACE_SECONDS,
                "lease_expires_at",
            ),
            *_needs_review(conn),
            *_accounts(conn, now),
            *_preflight(conn),
        ]
    )


def _cron(conn: db.Connection, now: dt.datetime) -> list[Problem]:
    problems = []
    run = db.fetch_one(conn, "last_run")
    waiting = sum(
        row["posts"]
        for row in db.fetch_all(conn, "count_active_by_state")
        if row["status"] in (PostState.SCHEDULED, PostState.PUBLISHING)
    )
    if waiting and run is None:
        problems.append(Problem("cron", f"cron: run-due never ran, with {_posts(waiting)} waiting"))
    elif waiting and run and now - run["started_at"] > dt.timedelta(seconds=CRON_STALE_SECONDS):
        ago = human(now - run["started_at"])
        problems.append(
            Problem("cron", f"cron: last run {ago} ago, with {_posts(waiting)} waiting")
        )
    if (
        run
        and run["finished_at"] is None
        and now - run["started_at"] > dt.timedelta(seconds=RUN_UNFINISHED_SECONDS)
    ):
        ago = human(now - run["started_at"])
        problems.append(
            Problem(
                "last_run",
                f"last run (id {run['id']}, pid {run['pid']} on {run['host']}) started {ago} "
                "ago and never finished: it crashed or was killed; see its log",
            )
        )
    if run and run["outcome"] == "error":
        problems.append(
            Problem("last_run", f"last run ended in error: {run['error'] or 'no detail'}")
        )
    return problems


def _listed(
    conn: db.Connection, query: str, check: str, text: str, grace: int, time_column: str
) -> list[Problem]:
    rows = db.fetch_all(conn, query, {"limit": LISTED_IDS, "grace_seconds": grace})
    if not rows:
        return []
    detail = text.format(minutes=grace // 60, first=_when(rows[0][time_column]))
    ids = tuple(str(r["id"]) for r in rows)
    return [Problem(check, f"{check}: {_posts(rows[0]['total'])} {detail}", ids)]


def _needs_review(conn: db.Connection) -> list[Problem]:
    rows = db.fetch_all(conn, "needs_review", {"limit": LISTED_IDS})
    if not rows:
        return []
    ids = tuple(str(r["id"]) for r in rows)
    more = ", ..." if rows[0]["total"] > len(rows) else ""
    return [
        Problem(
            "needs_review",
            f"needs_review: {_posts(rows[0]['total'])} may or may not be live "
            f"({', '.join(ids)}{more}); check the platform, then `confirm-live POST_ID` "
            "if it is live, or `retry-failed --id POST_ID --confirm-not-live` if it is not",
            ids,
        )
    ]


def _accounts(conn: db.Connection, now: dt.datetime) -> list[Problem]:
    held = held_posts_by_account(conn)
    problems = []
    for account in accounts_needing_attention(conn):
        account_id = str(account["id"])
        name = f" {account['name']}" if account["name"] else ""
        label = f"account {account_id} ({account['platform']}{name})"
        if account["state"] == "needs_reauth":
            reason = account["state_reason"] or "no reason recorded"
            problems.append(
                Problem(
                    "account",
                    f"{label} needs re-authorisation: {reason}; "
                    f"{_posts(held.get(account_id, 0))} held",
                    (account_id,),
                )
            )
        elif account["state"] == "active" and account["expires_at"] is not None:
            verb = "expired" if account["expires_at"] <= now else "expires"
            problems.append(
                Problem(
                    "token",
                    f"token: {label} {verb} at {_when(account['expires_at'])}",
                    (account_id,),
                )
            )
    return problems


def _preflight(conn: db.Connection) -> list[Problem]:
    """A line a scheduled post whose preflight (engine/preflight.py) found a problem."""
    return [
        Problem(
            "preflight",
            f"preflight: post {row['id']} ({row['platform']}, due {_when(row['scheduled_for'])}): "
            + "; ".join(str(p.get("message")) for p in row["problems"] if isinstance(p, dict)),
            (str(row["id"]),),
        )
        for row in db.fetch_all(conn, "preflight_problems", {"limit": LISTED_IDS})
    ]


def _posts(n: int) -> str:
    return f"{n} post" if n == 1 else f"{n} posts"


def _when(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds")
