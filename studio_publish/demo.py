"""`studio-publish demo`: the whole job end to end on this machine, with nothing configured.

A throwaway embedded PostgreSQL, the local platform sandbox on a free port, a sample account
for each platform, one post of each type due now, one `run-due`, then `status`.
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

from studio_publish.accounts import NewAccount, add_account
from studio_publish.engine.run import RunSummary
from studio_publish.logs import configure_logging
from studio_publish.operations import run_due
from studio_publish.platforms.registry import PLATFORMS
from studio_publish.platforms.spec import LOCAL_VIDEO
from studio_publish.reporting.status import overview
from studio_publish.sandbox import Sandbox
from studio_publish.sandbox.ledger import INBOX, PROFILE
from studio_publish.scheduling.posts import schedule_post
from studio_publish.scheduling.validation import PostInput
from studio_publish.settings import Settings
from studio_publish.store import db
from studio_publish.store.migrations import migrate

Print = Callable[[str], None]
ShowStatus = Callable[[dict[str, Any]], None]  # the CLI's renderer of `status`


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


def run_demo(say: Print, show_status: ShowStatus) -> RunSummary:
    configure_logging("console", level=logging.WARNING)  # the story is told below, not in logs
    folder = Path(tempfile.mkdtemp(prefix="studio-publish-demo-"))
    try:
        say("Starting a throwaway embedded PostgreSQL and the local platform sandbox...")
        with (
            embedded_database(folder / "postgres") as target,
            Sandbox(port=0, container_polls=1, tiktok_status_polls=1) as sandbox,
        ):
            return _demo(say, show_status, folder, target, sandbox)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _demo(
    say: Print, show_status: ShowStatus, folder: Path, target: db.DatabaseTarget, sandbox: Sandbox
) -> RunSummary:
    media_root = folder / "media"  # local media is read from this folder only
    media_root.mkdir()
    # The sandbox's API bases (STUDIO_PUBLISH_GRAPH_API_BASE, ...), and what each platform's
    # demo needs besides (a client key, say).
    pointed = {k.removeprefix("STUDIO_PUBLISH_").lower(): v for k, v in sandbox.env().items()}
    for spec in PLATFORMS.values():
        pointed.update(spec.demo.settings)
    settings = Settings(
        database_url=target.url,
        **pointed,
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
        names = ", ".join(spec.display_name for spec in PLATFORMS.values())
        say(f"Registered {len(accounts)} sample accounts: {names}.")
        count = 0
        for platform, spec in PLATFORMS.items():
            for post in spec.demo.posts:
                schedule_post(
                    conn,
                    PostInput(
                        account_id=accounts[platform],
                        at="now",
                        caption=post.caption,
                        media=[str(video) if m == LOCAL_VIDEO else m for m in post.media],
                        post_type=post.post_type,
                        options=list(post.options),
                    ),
                    settings.media_policy(),
                )
                count += 1
        say(f"Scheduled {count} posts, one of each type, due now.")
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
        show_status(overview(conn, database=target.description))
    finally:
        conn.close()

    ledger = sandbox.ledger
    live, inboxes = ledger.count(destination=PROFILE), ledger.count(destination=INBOX)
    duplicates, lost = ledger.duplicate_count(), sandbox.stats()["lost_responses"]
    say(
        f"\nThe sandbox's ledger shows {live} posts live, {inboxes} sent to a creator's inbox "
        f"(to finish in the app: `status POST_ID` says so) and {duplicates} duplicates."
    )
    comments = ledger.comments()
    if comments:
        shown = "; ".join(f"{c.platform}: {c.text!r}" for c in comments)
        say(
            f"Under their posts, {len(comments)} first comments went up once each ({shown}), "
            f"{ledger.comment_duplicates()} duplicated: `status POST_ID` shows each."
        )
    if lost:
        say(
            f"It lost {lost} answer on purpose: studio-publish read that post's container, "
            "found it PUBLISHED, and recorded it once instead of sending it again."
        )
    say(next_steps(sandbox.env(), sandbox.url))
    return summary


def _sample_accounts(conn: db.Connection, sandbox: Sandbox) -> dict[str, str]:
    """One account per platform, registered in the sandbox too (so a TikTok open_id stays the
    same across token refreshes)."""
    ids = {}
    for platform, spec in PLATFORMS.items():
        demo, token = spec.demo, f"demo-{platform}-token"
        sandbox.add_account(
            platform,
            demo.platform_account_id,
            token,
            refresh_token=demo.refresh_token,
            **({"username": demo.username} if demo.username else {}),
        )
        account = NewAccount(
            platform=platform,
            platform_account_id=demo.platform_account_id,
            name=demo.name,
            access_token=token,
            refresh_token=demo.refresh_token,
        )
        ids[platform] = str(add_account(conn, account)["id"])
    return ids


SANDBOX_PORT = 8765  # where the hints serve the sandbox: `studio-publish sandbox --port 8765`
# The demo's Instagram account: any id and any token do in the sandbox.
HINT_ACCOUNT_ID = "17841400000000001"


def next_steps(sandbox_env: dict[str, str], sandbox_url: str) -> str:
    """What to try next: commands that run as printed, in order, in the checkout where the
    README installed the tool, and end with a post live in a sandbox served by hand.

    Every line to paste is indented six spaces (tests/integration/test_e2e.py runs them)."""
    served = f"http://127.0.0.1:{SANDBOX_PORT}"
    exports = "\n".join(
        f"      export {name}={value.replace(sandbox_url, served)}"
        for name, value in sandbox_env.items()
    )
    return NEXT_STEPS.format(exports=exports, served=served, port=SANDBOX_PORT, id=HINT_ACCOUNT_ID)


NEXT_STEPS = """
What to try next: publish a post yourself, in the folder where you installed studio-publish
(with the venv activated, drop the .venv/bin/).
  1. In a second terminal, in the same folder, serve the sandbox (Ctrl-C stops it):
      .venv/bin/studio-publish sandbox --port {port}
  2. In this terminal, point studio-publish at it (the sandbox serves the photo, on loopback):
{exports}
      export STUDIO_PUBLISH_MEDIA_ALLOW_HOSTS=127.0.0.1
  3. Then, in this same terminal (the embedded PostgreSQL, unless DATABASE_URL is set):
      .venv/bin/studio-publish db migrate
      ACCOUNT=$(printf 'any-token' | .venv/bin/studio-publish accounts add \\
          --platform instagram --platform-account-id {id})
      .venv/bin/studio-publish schedule --account "$ACCOUNT" --at now --caption "Hello" \\
          --media {served}/_sandbox/media/photo.jpg
      .venv/bin/studio-publish run-due
      .venv/bin/studio-publish status
  run-due is what cron runs every minute (crontab.example); status counts it under "posted 24h".
  .venv/bin/studio-publish db stop stops the embedded PostgreSQL when you are done.

Everything this demo started has been stopped and removed (but for an empty lock file:
see the README's Install)."""
