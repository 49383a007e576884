"""The end-to-end tests' standing check: every post the database says is `posted` is live on
the sandbox, as its ledger shows (issue 13: no test may leave a post `posted` that the
platform does not have). Each e2e module's sandbox fixture ends with it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row

from studio_publish.sandbox import Sandbox

# The posts published since the sandbox started: a row a test writes as posted long ago (an
# account's history) was never the sandbox's to have.
POSTED = """SELECT id, platform, platform_post_id FROM studio_social_posts
            WHERE status = 'posted' AND (published_at IS NULL OR published_at >= %s)"""


def database_now(db_url: str) -> Any:
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT now()").fetchone()
    assert row is not None
    return row[0]


def posted_not_live(
    db_url: str, sandbox: Sandbox, since: Any = "-infinity"
) -> list[dict[str, Any]]:
    """The rows posted since ``since`` whose platform id the ledger knows neither as a post nor
    as one of a post's sources (a TikTok publish_id, a container)."""
    known = set()
    for entry in sandbox.ledger.entries():
        known.add(entry.platform_post_id)
        known.update(entry.source_ids)
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        rows = conn.execute(POSTED, [since]).fetchall()
    return [row for row in rows if row["platform_post_id"] not in known]


@contextmanager
def checked_sandbox(db_url: str, **knobs: Any) -> Iterator[Sandbox]:
    """A sandbox for one test; when the test is over, every post it published must be in its
    ledger."""
    started = database_now(db_url)
    with Sandbox(port=0, **knobs) as box:
        yield box
        missing = posted_not_live(db_url, box, started)
        assert not missing, f"posted, but not live on the sandbox: {missing}"
