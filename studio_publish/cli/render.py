"""How the commands' results read on a terminal: the text side of `output.emit`.

Each function shows one command's JSON document (or its summary) to a person. Values from
rows and platforms pass through `printable`, as everywhere (see output.py).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from studio_publish.cli.output import emit, print_line, print_table
from studio_publish.terminal_text import printable

ACCOUNT_COLUMNS = [
    "id", "platform", "login", "platform_account_id", "name", "token_expires_at", "state",
]  # fmt: skip
PLANNED_COLUMNS = ["platform", "post_type", "status", "scheduled_for", "caption"]
DUE_COLUMNS = ["id", "platform", "post_type", "due_at", "attempt_count", "would"]
ABANDONED_COLUMNS = ["id", "platform", "lease_expires_at", "would"]


def show_accounts(rows: list[dict[str, Any]]) -> None:
    print_table("Accounts", ACCOUNT_COLUMNS, rows, empty="none yet (add one with `accounts add`)")


def show_planned(document: dict[str, Any]) -> None:
    """`schedule --dry-run`: the posts that would be written."""
    rows = document["posts"]
    print_table(f"Valid: {len(rows)} post(s) would be written (dry run)", PLANNED_COLUMNS, rows)


def show_due(preview: dict[str, Any]) -> None:
    """`run-due --dry-run`: what is due, and what a run would do with each post."""
    title = "Due now (dry run: nothing claimed or sent)"
    print_table(title, DUE_COLUMNS, preview["due"], empty="nothing is due")
    print_table("Abandoned by a run that stopped", ABANDONED_COLUMNS, preview["abandoned"])
    print_table(
        "First comments due under posted posts",
        ["id", "platform", "state", "attempts", "would"],
        preview.get("first_comments") or [],
    )


def show_health(health: Any) -> None:
    """`status --check`: one line a problem, or OK."""
    for problem in health.problems:
        print_line(printable(problem.line))
    if health.ok:
        print_line("OK")


def show_run(data: dict[str, Any]) -> None:
    """A run's summary sentence, then a line for each post that was not posted."""
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
    comments = data.get("first_comments") or []
    if comments:
        posted = sum(c["state"] == "posted" for c in comments)
        print_line(f"first comments: {posted} posted, {len(comments) - posted} not (yet)")
    for comment in comments:
        if comment["state"] != "posted":
            line = f"  {comment['post_id']} first comment: {comment['state']}: {comment['message']}"
            print_line(printable(line))


def print_run(data: dict[str, Any], as_json: bool) -> None:
    """A run's summary: JSON when asked or under cron (stdout not a terminal), else a sentence."""
    emit(data, as_json or not sys.stdout.isatty(), show_run)


def show_published(document: dict[str, Any]) -> None:
    """`publish`: what became of the post (or of its new copy)."""
    post_id, result = document["post_id"], document["result"]
    if document["copy_of"]:
        print_line(f"Published a NEW COPY {post_id} of post {document['copy_of']} (--force).")
    if result is None:
        print_line(f"{post_id}: nothing happened")
    elif document["posted"]:
        link = result["permalink"] or ""
        print_line(printable(f"{post_id}: posted as {result['platform_post_id']} {link}".rstrip()))
    else:
        print_line(printable(f"{post_id}: not posted ({result['outcome']}): {result['message']}"))


def show_requeued(document: dict[str, Any]) -> None:
    """`retry-failed`: how many posts are back in line, and the run when --now."""
    run = document["run"]
    now = ": publishing them now." if run else "."
    print_line(f"Put {len(document['requeued'])} post(s) back in line{now}")
    if run:
        print_run(run, False)


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
