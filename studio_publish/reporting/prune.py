"""`db prune`: delete attempt, run and alert history older than a cutoff.

Never a post. Never the attempts of a post still scheduled, publishing or needing review,
and never the latest run (status shows when cron last ran from it). See housekeeping.sql.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from studio_publish.engine.alerts import MAX_SEND_ATTEMPTS
from studio_publish.errors import BadInput
from studio_publish.scheduling.timeparse import parse_age
from studio_publish.store import db

TABLES = {"attempts": "prune_attempts", "runs": "prune_runs", "alerts": "prune_alerts"}
# Rows per DELETE: each statement stays well inside the session's statement_timeout.
BATCH = 5000


@dataclass(frozen=True)
class PruneResult:
    cutoff: dt.datetime
    dry_run: bool
    counts: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {"cutoff": self.cutoff, "dry_run": self.dry_run, **self.counts}


def prune(conn: db.Connection, older_than: str, *, dry_run: bool = False) -> PruneResult:
    """Delete (or with dry_run, count) the history rows that started before now - older_than."""
    age = parse_age(older_than, field="older_than")
    try:
        cutoff = db.database_now(conn) - age
    except OverflowError:
        raise BadInput("older_than", f"{older_than!r} reaches back before year 1") from None
    counts = {table: _prune(conn, name, cutoff, dry_run) for table, name in TABLES.items()}
    return PruneResult(cutoff, dry_run, counts)


def _prune(conn: db.Connection, name: str, cutoff: dt.datetime, dry_run: bool) -> int:
    params = {"cutoff": cutoff, "dry_run": dry_run, "max_alert_attempts": MAX_SEND_ATTEMPTS}
    if dry_run:
        row = db.fetch_one(conn, name, {**params, "limit": None})
        return int(row["matched"]) if row else 0
    total = 0
    while True:
        row = db.fetch_one(conn, name, {**params, "limit": BATCH})
        deleted = int(row["deleted"]) if row else 0
        total += deleted
        if deleted < BATCH:
            return total
