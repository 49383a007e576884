"""`studio-publish demo`: the whole job end to end on this machine, with nothing configured.

A throwaway embedded PostgreSQL, the local platform sandbox on a free port, sample accounts
for the three platforms, one post of each type due now, one `run-due`, then `status`.
Everything it starts is stopped and removed before it returns, whatever happens.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from studio_publish import db
from studio_publish.accounts import NewAccount, add_account
from studio_publish.engine import RunSummary
from studio_publish.logs import configure_logging
from studio_publish.migrations import migrate
from studio_publish.operations import run_due
from studio_publish.posts import schedule_post
from studio_publish.sandbox import Sandbox
from studio_publish.settings import Settings
from studio_publish.status import overview
from studio_publish.validation import PostInput

Print = Callable[[str], None]
PUBLIC = "privacy_level=PUBLIC_TO_EVERYONE"
CDN = "https://cdn.example.com/demo"

# (platform, caption, media, options): one post of each type the clients support.
SAMPLE_POSTS: list[tuple[str, str, list[str], list[str]]] = [
    ("instagram", "A single photo", [f"{CDN}/morning.jpg"], []),
    ("instagram", "A carousel: photo and video", [f"{CDN}/one.jpg", f"{CDN}/two.mp4"], []),
    ("instagram", "A reel, shared to the feed", [f"{CDN}/reel.mp4"], ["share_to_feed=true"]),
    ("instagram", "", [f"{CDN}/story.jpg"], ["type=story"]),
    ("facebook", "A text post with a link", [], ["link=https://example.com"]),
    ("facebook", "A photo on the Page", [f"{CDN}/page.jpg"], []),
    ("facebook", "Three photos in one post", [f"{CDN}/a.jpg", f"{CDN}/b.jpg", f"{CDN}/c.jpg"], []),
    ("facebook", "A video by URL", [f"{CDN}/clip.mp4"], []),
    ("tiktok", "A video uploaded in chunks from a file", ["LOCAL_VIDEO"], [PUBLIC]),
    ("tiktok", "A photo post", [f"{CDN}/p1.jpg", f"{CDN}/p2.jpg"], [PUBLIC]),
]


@contextlib.contextmanager
def embedded_database(folder: Path) -> Iterator[db.DatabaseTarget]:
    """A fresh embedded PostgreSQL in ``folder``, stopped when the block ends."""
    pgserver = db.import_pgserver()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        server = pgserver.get_server(folder, cleanup_mode="stop")
    try:
        yield db.DatabaseTarget(str(server.get_uri()), True, "a throwaway embedded PostgreSQL")
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server.cleanup()


def run_demo(say: Print) -> RunSummary:
    configure_logging("console", level=logging.WARNING)  # the story is told below, not in logs
    folder = Path(tempfile.mkdtemp(prefix="studio-publish-demo-"))
    try:
        say("Starting a throwaway embedded PostgreSQL and the local platform sandbox...")
        with (
            embedded_database(folder / "postgres") as target,
            Sandbox(port=0, container_polls=1, tiktok_status_polls=1) as sandbox,
        ):
            return _demo(say, folder, target, sandbox)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _demo(say: Print, folder: Path, target: db.DatabaseTarget, sandbox: Sandbox) -> RunSummary:
    media_root = folder / "media"  # local media is read from this folder only
    media_root.mkdir()
    settings = Settings(
        database_url=target.url,
        graph_api_base=sandbox.graph_base,
        tiktok_api_base=sandbox.tiktok_base,
        tiktok_client_key="demo-client-key",
        tiktok_client_secret=SecretStr("demo-client-secret"),
        poll_interval_seconds=0.2,
        concurrency=8,
        log_format="console",
        media_root=str(media_root),
    )
    video = media_root / "clip.mp4"
    video.write_bytes(b"\0" * 3_000_000)  # the sandbox checks sizes and ranges, not codecs

    conn = db.connect(target)
    try:
        applied = migrate(conn)
        say(f"Migrated the schema ({len(applied)} migrations).")
        accounts = _sample_accounts(conn, sandbox)
        say("Registered three sample accounts: Instagram, a Facebook Page and TikTok.")
        for platform, caption, media, options in SAMPLE_POSTS:
            post_type = next((o[5:] for o in options if o.startswith("type=")), None)
            schedule_post(
                conn,
                PostInput(
                    account_id=accounts[platform],
                    at="now",
                    draft=False,
                    caption=caption,
                    media=[str(video) if m == "LOCAL_VIDEO" else m for m in media],
                    post_type=post_type,
                    options=[o for o in options if not o.startswith("type=")],
                    tz=None,
                ),
                settings.media_policy(),
            )
        say(f"Scheduled {len(SAMPLE_POSTS)} posts, one of each type, due now.")
        # The worst case, on purpose: Instagram publishes one post and the answer is lost.
        sandbox.lose_response("graph.media_publish", count=1)
        say("Told the sandbox to lose the answer to one Instagram publish call.\n")

        say("$ studio-publish run-due")
        summary = run_due(settings, target)
        data = summary.as_dict()
        say(
            f"  {data['posted']} posted, {data['retried']} to retry, {data['failed']} failed, "
            f"{data['needs_review']} need review, in {data['seconds']:.1f}s\n"
        )
        say("$ studio-publish status")
        from studio_publish.status_view import show_overview

        show_overview(overview(conn, database=target.description))
    finally:
        conn.close()

    live, duplicates = sandbox.ledger.count(), sandbox.ledger.duplicate_count()
    lost = sandbox.stats()["lost_responses"]
    say(f"\nThe sandbox's ledger shows {live} posts live and {duplicates} duplicates.")
    if lost:
        say(
            f"It lost {lost} answer on purpose: studio-publish read that post's container, "
            "found it PUBLISHED, and recorded it once instead of sending it again."
        )
    say(NEXT_STEPS)
    return summary


def _sample_accounts(conn: db.Connection, sandbox: Sandbox) -> dict[str, str]:
    samples: dict[str, dict[str, Any]] = {
        "instagram": {"platform_account_id": "17841400000000001", "name": "Demo Instagram"},
        "facebook": {"platform_account_id": "102000000000001", "name": "Demo Page"},
        "tiktok": {
            "platform_account_id": "demo-open-id",
            "name": "Demo TikTok",
            "refresh_token": "demo-refresh-token",
        },
    }
    ids = {}
    for platform, fields in samples.items():
        token = f"demo-{platform}-token"
        if platform == "tiktok":  # registered, so the open_id stays the same across refreshes
            sandbox.add_account(
                "tiktok",
                fields["platform_account_id"],
                token,
                refresh_token=fields["refresh_token"],
                username="studio_demo",
            )
        row = add_account(conn, NewAccount(platform=platform, access_token=token, **fields))
        ids[platform] = str(row["id"])
    return ids


NEXT_STEPS = """
What to try next:
  studio-publish sandbox --port 8765        serve the sandbox yourself, then point the tool at it:
      export STUDIO_PUBLISH_GRAPH_API_BASE=http://127.0.0.1:8765/graph/v25.0
      export STUDIO_PUBLISH_TIKTOK_API_BASE=http://127.0.0.1:8765/tiktok
  studio-publish db migrate                 the embedded PostgreSQL, unless DATABASE_URL is set
  studio-publish accounts add --platform instagram --platform-account-id 1784 < token.txt
  studio-publish schedule --account ID --at +5m --caption "Hello" --media https://...
  studio-publish run-due                    what cron runs every minute (see crontab.example)
  studio-publish status                     what is due, what failed and why

Everything this demo started has been stopped and removed."""
