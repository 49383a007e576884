"""The command line: parses arguments, calls the library, prints. No logic of its own.

Heavy modules (psycopg, httpx, rich) are imported inside the commands that use them, so
`studio-publish --help` starts fast.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from studio_publish.errors import BadInput, StudioPublishError
from studio_publish.platforms.registry import PLATFORMS

if TYPE_CHECKING:
    import datetime as dt

    from studio_publish.accounts import NewTokens
    from studio_publish.settings import Settings
    from studio_publish.store.db import Connection, DatabaseTarget


class _Commands(TyperGroup):
    """Turns our errors into one line on stderr and the spec's exit code, for every command.

    With --json the error is also one JSON document on stdout (the spec's Additions):
    ``{"error": {"code": 2, "message": "...", "field": "--at"}}``, so a script that reads
    stdout learns why as well as that.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        ctx.meta["studio_publish.json"] = "--json" in args
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except StudioPublishError as exc:
            from studio_publish.terminal_text import printable

            if ctx.meta.get("studio_publish.json"):
                from studio_publish.cli.output import print_json

                field = exc.field if isinstance(exc, BadInput) else None
                print_json({"error": {"code": exc.exit_code, "message": str(exc), "field": field}})
            typer.echo(f"error: {printable(str(exc))}", err=True)
            raise typer.Exit(exc.exit_code) from None


# The platforms come from the registry, so a new one needs no change here.
_NAMES = [spec.display_name for spec in PLATFORMS.values()]
ABOUT = f"Schedule posts and publish them to {', '.join(_NAMES[:-1])} and {_NAMES[-1]}."
ACCOUNT_OPTIONS = "; ".join(
    f"{spec.display_name}: {', '.join(f'{key}=true' for key in spec.account_options)}"
    for spec in PLATFORMS.values()
    if spec.account_options
)

# -h is --help on every command (the spec's Additions).
HELP_OPTIONS = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    cls=_Commands,
    help=ABOUT,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings=HELP_OPTIONS,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"studio-publish {version('studio-publish')}")
        raise typer.Exit()


@app.callback()
def _root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    return None  # the app's help is ABOUT, which names the platforms from the registry


db_app = typer.Typer(help="Database schema and housekeeping.", no_args_is_help=True)
accounts_app = typer.Typer(help="Social accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(accounts_app, name="accounts")

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document, nothing else.")]
TzOption = Annotated[str | None, typer.Option(help="IANA zone for times without an offset.")]
# The token options of `accounts add` and `accounts reauth`: tokens never come from argv.
AccessTokenEnv = Annotated[
    str | None,
    typer.Option(help="Read the access token from this environment variable (else stdin)."),
]
RefreshTokenEnv = Annotated[
    str | None, typer.Option(help="Read a refresh token from this environment variable.")
]
TokenExpiresAt = Annotated[str | None, typer.Option(help="When the access token expires (WHEN).")]
RefreshTokenExpiresAt = Annotated[
    str | None, typer.Option(help="When the refresh token expires (WHEN).")
]


def settings() -> Settings:
    from studio_publish.logs import configure_logging
    from studio_publish.settings import load_settings

    loaded = load_settings()
    configure_logging(loaded.log_format)
    return loaded


@contextmanager
def database(*, migrated: bool = True) -> Iterator[tuple[Connection, DatabaseTarget]]:
    """Connect to the configured (or embedded) database; exit 3 if unreachable or unmigrated."""
    from studio_publish.store import db
    from studio_publish.store.migrations import require_migrated

    target = db.resolve_target(settings())
    conn = db.connect(target)
    try:
        if migrated:
            require_migrated(conn)
        yield conn, target
    finally:
        conn.close()


# --- db ---------------------------------------------------------------------------------


@db_app.command("migrate")
def db_migrate(as_json: JsonOption = False) -> None:
    """Apply the pending migrations from sql/, in order, each once. Safe to run again."""
    from studio_publish.cli.output import print_json, print_line
    from studio_publish.store.migrations import migrate

    with database(migrated=False) as (conn, target):
        applied = migrate(conn)
    names = [m.name for m in applied]
    if as_json:
        print_json({"database": target.description, "applied": names})
    elif names:
        print_line(f"Applied {len(names)} migration(s) to {target.description}: {', '.join(names)}")
    else:
        print_line(f"{target.description} is up to date.")


@db_app.command("stop")
def db_stop(as_json: JsonOption = False) -> None:
    """Stop the embedded PostgreSQL, when it is running (it stays up between commands)."""
    from studio_publish.cli.output import print_json, print_line
    from studio_publish.store import db

    loaded = settings()
    if loaded.database_url:  # nothing of ours runs: a no-op, so scripts may call it anyway
        if as_json:
            print_json({"data_dir": None, "stopped": False})
        else:
            print_line("DATABASE_URL is set: there is no embedded PostgreSQL to stop.")
        return
    data_dir = db.embedded_data_dir(loaded)
    stopped = db.stop_embedded(data_dir)
    if as_json:
        print_json({"data_dir": str(data_dir), "stopped": stopped})
    elif stopped:
        print_line(f"Stopped the embedded PostgreSQL in {data_dir}.")
    else:
        print_line(f"The embedded PostgreSQL in {data_dir} is not running.")


@db_app.command("prune")
def db_prune(
    older_than: Annotated[str, typer.Option(help="Delete history older than this, e.g. 90d, 12w.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be deleted; delete nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete old attempt, run and alert rows; never a post, never the latest run."""
    from studio_publish.cli.output import print_json, print_line
    from studio_publish.formatting import local_time
    from studio_publish.reporting.prune import prune

    with database() as (conn, _):
        result = prune(conn, older_than, dry_run=dry_run)
    if as_json:
        print_json(result.as_dict())
        return
    counts = ", ".join(f"{n} {table}" for table, n in result.counts.items())
    verb = "Would delete" if dry_run else "Deleted"
    print_line(f"{verb} history from before {local_time(result.cutoff)}: {counts}.")


# --- accounts ---------------------------------------------------------------------------


def read_secret(env_var: str | None, what: str, *, required: bool) -> str | None:
    """A token from the named environment variable, or else from standard input."""
    if env_var:
        value = os.environ.get(env_var)
        if not value:
            raise BadInput(f"--{what}-env", f"environment variable {env_var} is not set or empty")
        return value
    if not required:
        return None
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass(f"{what.replace('-', ' ')}: ")
    return sys.stdin.readline().strip()


def tokens_from_input(
    conn: Connection,
    *,
    access_token_env: str | None,
    refresh_token_env: str | None,
    token_expires_at: str | None,
    refresh_token_expires_at: str | None,
    tz: str | None,
) -> NewTokens:
    """The tokens given to `accounts add` or `accounts reauth`, with their expiry times."""
    from studio_publish.accounts import NewTokens
    from studio_publish.scheduling.timeparse import parse_when
    from studio_publish.store import db

    now = db.database_now(conn)

    def when(text: str | None, field: str) -> dt.datetime | None:
        return parse_when(text, now=now, tz=tz, field=field) if text else None

    return NewTokens(
        access_token=read_secret(access_token_env, "access-token", required=True) or "",
        refresh_token=read_secret(refresh_token_env, "refresh-token", required=False),
        token_expires_at=when(token_expires_at, "--token-expires-at"),
        refresh_token_expires_at=when(refresh_token_expires_at, "--refresh-token-expires-at"),
    )


@accounts_app.command("add")
def accounts_add(
    platform: Annotated[str, typer.Option(help=f"One of: {', '.join(PLATFORMS)}.")],
    platform_account_id: Annotated[
        str,
        typer.Option(help=", ".join(spec.account_id_label for spec in PLATFORMS.values()) + "."),
    ],
    workspace: Annotated[str | None, typer.Option(help="Workspace UUID.")] = None,
    name: Annotated[str | None, typer.Option(help="A name to show.")] = None,
    token_expires_at: TokenExpiresAt = None,
    refresh_token_expires_at: RefreshTokenExpiresAt = None,
    access_token_env: AccessTokenEnv = None,
    refresh_token_env: RefreshTokenEnv = None,
    option: Annotated[
        list[str] | None,
        typer.Option(help=f"Account option KEY=VALUE ({ACCOUNT_OPTIONS})."),
    ] = None,
    tz: TzOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a social account. The token comes from stdin or --access-token-env, never argv."""
    from studio_publish.accounts import (
        DEFAULT_WORKSPACE,
        NewAccount,
        add_account,
        parse_account_options,
    )
    from studio_publish.cli.output import print_json, print_line

    with database() as (conn, _):
        tokens = tokens_from_input(
            conn,
            access_token_env=access_token_env,
            refresh_token_env=refresh_token_env,
            token_expires_at=token_expires_at,
            refresh_token_expires_at=refresh_token_expires_at,
            tz=tz,
        )
        account = NewAccount(
            platform=platform,
            platform_account_id=platform_account_id,
            access_token=tokens.access_token,
            workspace_id=workspace or DEFAULT_WORKSPACE,
            name=name,
            refresh_token=tokens.refresh_token,
            token_expires_at=tokens.token_expires_at,
            refresh_token_expires_at=tokens.refresh_token_expires_at,
            options=parse_account_options(platform, option or []),
        )
        row = add_account(conn, account)
    if as_json:
        print_json(row)
    else:
        print_line(str(row["id"]))


@accounts_app.command("list")
def accounts_list(as_json: JsonOption = False) -> None:
    """Accounts with platform, name, token expiry and state. Never a token."""
    from studio_publish.accounts import list_accounts
    from studio_publish.cli.output import print_json, print_table

    with database() as (conn, _):
        rows = list_accounts(conn)
    if as_json:
        print_json(rows)
    else:
        columns = ["id", "platform", "platform_account_id", "name", "token_expires_at", "state"]
        print_table("Accounts", columns, rows, empty="none yet (add one with `accounts add`)")


@accounts_app.command("reauth")
def accounts_reauth(
    account_id: Annotated[
        str, typer.Argument(metavar="ACCOUNT_ID", help="The account to re-authorise.")
    ],
    token_expires_at: TokenExpiresAt = None,
    refresh_token_expires_at: RefreshTokenExpiresAt = None,
    access_token_env: AccessTokenEnv = None,
    refresh_token_env: RefreshTokenEnv = None,
    tz: TzOption = None,
    as_json: JsonOption = False,
) -> None:
    """Store an account's new token(s) and make it active: its held posts go out next run."""
    from studio_publish.accounts import reauth_account
    from studio_publish.cli.output import print_json, print_line

    with database() as (conn, _):
        tokens = tokens_from_input(
            conn,
            access_token_env=access_token_env,
            refresh_token_env=refresh_token_env,
            token_expires_at=token_expires_at,
            refresh_token_expires_at=refresh_token_expires_at,
            tz=tz,
        )
        row = reauth_account(conn, account_id, tokens)
    if as_json:
        print_json(row)
    else:
        print_line(
            f"Account {row['id']} ({row['platform']}) is active again: "
            f"{row['released_posts']} held post(s) go out at the next run-due."
        )


# --- posts ------------------------------------------------------------------------------


def require_utf8(*arguments: tuple[str, str | list[str] | None]) -> None:
    """BadInput naming the flag whose value is not UTF-8 text, before anything else runs."""
    from studio_publish.scheduling.validation import check_text

    for flag, given in arguments:
        for value in [given] if isinstance(given, str) else given or []:
            check_text(value, flag)


@app.command()
def schedule(
    post_id: Annotated[
        str | None, typer.Argument(metavar="POST_ID", help="Reschedule this existing post instead.")
    ] = None,
    account: Annotated[str | None, typer.Option(help="Account id (UUID).")] = None,
    at: Annotated[
        str | None, typer.Option(help="WHEN: ISO 8601 with offset, now, +30m, +2h, +1d.")
    ] = None,
    draft: Annotated[bool, typer.Option("--draft", help="Create a draft instead.")] = False,
    caption: Annotated[str, typer.Option(help="The caption or message.")] = "",
    media: Annotated[list[str] | None, typer.Option(help="A media URL or file; repeat.")] = None,
    post_type: Annotated[
        str | None,
        typer.Option("--type", help="image, video, reel, story, carousel or text."),
    ] = None,
    option: Annotated[list[str] | None, typer.Option(help="KEY=VALUE; repeat.")] = None,
    tz: Annotated[str | None, typer.Option(help="IANA zone for a time without offset.")] = None,
    file: Annotated[
        Path | None, typer.Option(help="Bulk: a CSV or JSON Lines file of posts.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Validate and show; write nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create a scheduled post (or a draft), reschedule one, or schedule a file of posts."""
    from studio_publish.cli.output import print_json, print_line, print_table
    from studio_publish.scheduling import posts
    from studio_publish.scheduling.validation import PostInput

    require_utf8(
        ("POST_ID", post_id),
        ("--account", account),
        ("--at", at),
        ("--caption", caption),
        ("--media", media),
        ("--type", post_type),
        ("--option", option),
        ("--tz", tz),
    )  # --file is a path: any bytes may name a file
    with database() as (conn, _):
        if file is not None:
            if post_id or account or at or draft or media or caption or post_type or option:
                raise BadInput("--file", "cannot be combined with single-post options")
            rows = posts.schedule_file(conn, file, settings().media_policy(), dry_run=dry_run)
        elif post_id is not None:
            if not at:
                raise BadInput("--at", "is required to reschedule a post")
            if account or draft or media or caption or post_type or option:
                raise BadInput("POST_ID", "rescheduling takes only --at (and --tz)")
            rows = [posts.reschedule_post(conn, post_id, at, tz=tz, dry_run=dry_run)]
        else:
            raw = PostInput(
                account_id=account,
                at=at,
                draft=draft,
                caption=caption,
                media=list(media or []),
                post_type=post_type,
                options=list(option or []),
                tz=tz,
            )
            rows = posts.schedule_post(conn, raw, settings().media_policy(), dry_run=dry_run)
    if as_json:
        print_json({"dry_run": dry_run, "posts": rows} if dry_run or file else rows[0])
    elif dry_run:
        columns = ["platform", "post_type", "status", "scheduled_for", "caption"]
        print_table(f"Valid: {len(rows)} post(s) would be written (dry run)", columns, rows)
    else:
        for row in rows:
            print_line(str(row["id"]))


@app.command()
def cancel(
    post_id: Annotated[str, typer.Argument(metavar="POST_ID", help="The post to cancel.")],
    as_json: JsonOption = False,
) -> None:
    """Cancel a draft or scheduled post so that it is never published."""
    from studio_publish.cli.output import print_json, print_line
    from studio_publish.scheduling.posts import cancel_post

    with database() as (conn, _):
        row = cancel_post(conn, post_id)
    if as_json:
        print_json(row)
    else:
        print_line(f"Cancelled {row['id']}.")


@app.command()
def status(
    post_id: Annotated[
        str | None, typer.Argument(metavar="POST_ID", help="Show this post in detail.")
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="For monitoring: one PROBLEM line each, exit 1; else OK, exit 0."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The queue at a glance, or one post with its attempt history."""
    from studio_publish.cli.output import print_json
    from studio_publish.reporting import status as report

    if check:
        if post_id:
            raise BadInput("--check", "checks the whole queue: leave out POST_ID")
        status_check(as_json)
        return
    from studio_publish.store import db

    with database() as (conn, target):
        embedded_dir = db.embedded_data_dir(settings()) if target.embedded else None
        data = (
            report.post_detail(conn, post_id)
            if post_id
            else report.overview(conn, database=target.description, embedded_dir=embedded_dir)
        )
    if as_json:
        print_json(data)
        return
    from studio_publish.cli.status_view import show_overview, show_post  # rich: only for people

    if post_id:
        show_post(data)
    else:
        show_overview(data)


def status_check(as_json: bool) -> None:
    from studio_publish.cli.output import print_json, print_line
    from studio_publish.reporting.health import check_health
    from studio_publish.terminal_text import printable

    with database() as (conn, _):
        health = check_health(conn)
    if as_json:
        print_json(health.as_dict())
    else:
        for problem in health.problems:
            print_line(printable(problem.line))
        if health.ok:
            print_line("OK")
    if not health.ok:
        raise typer.Exit(1)


# --- publishing -------------------------------------------------------------------------


def print_run(summary: Any, as_json: bool) -> None:
    """One summary line: JSON when asked or under cron, a sentence on a terminal."""
    from studio_publish.cli.output import print_json, print_line
    from studio_publish.terminal_text import printable

    data = summary.as_dict()
    if as_json or not sys.stdout.isatty():
        print_json(data)
        return
    print_line(
        f"{data['command']}: {data['posted']} posted, {data['retried']} to retry, "
        f"{data['failed']} failed ({data['missed']} missed), {data['needs_review']} need review, "
        f"{data['rescued']} rescued, in {data['seconds']:.1f}s"
    )
    for post in data["posts"]:
        if post["outcome"] != "posted":
            print_line(
                printable(
                    f"  {post['post_id']} {post['platform']}: {post['outcome']}: {post['message']}"
                )
            )


@contextmanager
def live_progress(enabled: bool) -> Iterator[Any]:
    """A live count of outcomes while run-due works on a terminal; a no-op under cron."""
    if not enabled:
        yield None
        return
    from collections import Counter

    from rich.live import Live

    counts: Counter[str] = Counter()

    def render() -> str:
        done = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
        return f"publishing... {done or 'nothing finished yet'}"

    with Live(render(), transient=True, refresh_per_second=8) as live:

        def on_result(result: Any) -> None:
            counts[result.outcome] += 1
            live.update(render())

        yield on_result


@app.command("run-due")
def run_due(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what is due; claim, write and call nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Publish every post that is due, then exit. Cron runs this every minute."""
    from studio_publish import operations
    from studio_publish.cli.output import print_json, print_table

    with database() as (conn, target):
        if dry_run:
            preview = operations.preview_due(conn, settings())
            if as_json:
                print_json(preview)
            else:
                print_table(
                    "Due now (dry run: nothing claimed or sent)",
                    ["id", "platform", "post_type", "due_at", "attempt_count", "would"],
                    preview["due"],
                    empty="nothing is due",
                )
                print_table(
                    "Abandoned by a run that stopped",
                    ["id", "platform", "lease_expires_at", "would"],
                    preview["abandoned"],
                )
            return
    live = sys.stderr.isatty() and not as_json
    loaded = settings()
    if live:  # the live view and the summary tell the story; per-post info would scroll it away
        import logging

        from studio_publish.logs import configure_logging

        configure_logging(loaded.log_format, level=logging.WARNING)
    with live_progress(live) as on_result:
        summary = operations.run_due(loaded, target, on_result=on_result)
    print_run(summary, as_json)
    if summary.failed:
        raise typer.Exit(1)


@app.command()
def publish(
    post_id: Annotated[str, typer.Argument(metavar="POST_ID", help="The post to publish now.")],
    force: Annotated[
        bool, typer.Option("--force", help="Publish a new copy of a post that is already live.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Publish one post now, whatever its time, and wait for the outcome."""
    from studio_publish import operations
    from studio_publish.cli.output import print_json, print_line
    from studio_publish.terminal_text import printable

    with database() as (conn, target):
        outcome = operations.publish_post(settings(), target, conn, post_id, force=force)
    result = outcome.result
    if as_json:
        print_json(
            {
                "post_id": outcome.post_id,
                "copy_of": outcome.copy_of,
                "posted": outcome.posted,
                "result": result.as_dict() if result else None,
            }
        )
    else:
        if outcome.copy_of:
            print_line(
                f"Published a NEW COPY {outcome.post_id} of post {outcome.copy_of} (--force)."
            )
        if result is None:
            print_line(f"{outcome.post_id}: nothing happened")
        elif outcome.posted:
            link = result.permalink or ""
            posted = f"{outcome.post_id}: posted as {result.platform_post_id} {link}".rstrip()
            print_line(printable(posted))
        else:
            print_line(
                printable(f"{outcome.post_id}: not posted ({result.outcome}): {result.message}")
            )
    if not outcome.posted:
        raise typer.Exit(1)


@app.command("retry-failed")
def retry_failed(
    post_ids: Annotated[
        list[str] | None, typer.Option("--id", help="Only this post; repeat.")
    ] = None,
    platform: Annotated[str | None, typer.Option(help="Only this platform.")] = None,
    account: Annotated[str | None, typer.Option(help="Only this account id.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only posts that failed within, e.g. 2h, 1d.")
    ] = None,
    now: Annotated[
        bool, typer.Option("--now", help="Publish them at once instead of at the next run.")
    ] = False,
    confirm_not_live: Annotated[
        bool,
        typer.Option(
            "--confirm-not-live",
            help="With --id: you checked that a needs_review post is not live.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Put failed posts back in line for the next run-due (or publish them --now)."""
    from studio_publish import operations
    from studio_publish.cli.output import print_json, print_line

    with database() as (conn, target):
        rows = operations.retry_failed(
            conn,
            ids=post_ids,
            platform=platform,
            account=account,
            since=since,
            confirm_not_live=confirm_not_live,
        )
    ids = [str(r["id"]) for r in rows]
    summary = operations.run_due(settings(), target, only_ids=ids) if now and ids else None
    if as_json:
        print_json({"requeued": ids, "run": summary.as_dict() if summary else None})
    else:
        print_line(
            f"Put {len(ids)} post(s) back in line" + (": publishing them now." if summary else ".")
        )
        if summary:
            print_run(summary, False)
    if summary and summary.failed:
        raise typer.Exit(1)


@app.command("confirm-live")
def confirm_live(
    post_id: Annotated[
        str, typer.Argument(metavar="POST_ID", help="A needs_review post you found live.")
    ],
    platform_post_id: Annotated[
        str | None, typer.Option(help="Its id on the platform, if you know it.")
    ] = None,
    permalink: Annotated[str | None, typer.Option(help="Its link, if you know it.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Record a needs_review post as posted: you checked, and it is live on the platform."""
    from studio_publish import operations
    from studio_publish.cli.output import print_json, print_line

    with database() as (conn, _):
        row = operations.confirm_live(
            conn, post_id, platform_post_id=platform_post_id, permalink=permalink
        )
    if as_json:
        print_json(row)
    else:
        print_line(f"Recorded {row['id']} as posted; nothing will publish it again.")


# --- sandbox and demo -------------------------------------------------------------------


@app.command()
def sandbox(
    port: Annotated[int, typer.Option(help="Port to listen on; 0 picks a free one.")] = 8765,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    latency: Annotated[float, typer.Option(help="Seconds added to every platform call.")] = 0.0,
    error_rate: Annotated[
        float, typer.Option(help="Share of platform calls that fail transiently (0 to 1).")
    ] = 0.0,
    quota_total: Annotated[
        int, typer.Option(help="Instagram posts per account per 24 hours.")
    ] = 50,
    log_requests: Annotated[bool, typer.Option(help="Print one line per request.")] = False,
) -> None:
    """Serve the local platform sandbox (a stand-in for every platform's API) until stopped.

    It prints the two settings that point studio-publish at it.

    Its control API (ledger, knobs, injected faults) is under /_sandbox/.
    """
    from studio_publish.sandbox import serve

    if not 0 <= port <= 65535:
        raise BadInput("--port", "must be between 0 and 65535")
    if not 0 <= error_rate <= 1:
        raise BadInput("--error-rate", "must be between 0 and 1")
    serve(
        host,
        port,
        log_requests=log_requests,
        latency=latency,
        error_rate=error_rate,
        quota_total=quota_total,
    )


@app.command()
def demo() -> None:
    """Run the whole job end to end here with nothing configured, then clean up.

    A throwaway embedded PostgreSQL and the local platform sandbox.

    Sample accounts and one post of each type due now, one run-due, then status.

    Needs the `embedded` extra.
    """
    from studio_publish.cli.output import print_line
    from studio_publish.cli.status_view import show_overview
    from studio_publish.demo import run_demo

    summary = run_demo(print_line, show_overview)
    if summary.failed or summary.count("posted") == 0:
        raise typer.Exit(1)


# --- entry point ------------------------------------------------------------------------


def main() -> None:
    app()
