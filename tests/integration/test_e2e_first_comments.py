"""First comments end to end: the real CLI, a real PostgreSQL, the sandbox's stand-ins.

A first comment goes up exactly once under its post on Instagram, Facebook and Threads, from
the CLI and from a row inserted by SQL; a lost answer at the comment step never makes a
second comment; a comment that fails for now is retried alone (never a second post); one
that fails for good leaves the post posted and says why.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from test_e2e import CDN, Tool, db_rows, post_status
from test_e2e import sandbox as sandbox  # the fixtures: the sandbox, the CLI pointed at it
from test_e2e import tool as tool

from studio_publish.sandbox import Sandbox

USERS = {
    "instagram": "17841400000000019",
    "facebook": "102000000000019",
    "threads": "6000000000000019",
}


@pytest.fixture
def accounts(tool: Tool) -> dict[str, str]:
    add = ("accounts", "add", "--platform")
    return {
        name: tool.ok(*add, name, "--platform-account-id", user, stdin=f"{name}-token-e2e\n")
        for name, user in USERS.items()
    }


@pytest.fixture
def schedule(tool: Tool, accounts: dict[str, str]) -> Callable[..., str]:
    def schedule(platform: str, *args: str) -> str:
        return tool.ok("schedule", "--account", accounts[platform], "--at", "now", *args)

    return schedule


def comment_row(db_url: str, post_id: str) -> dict[str, object]:
    (row,) = db_rows(db_url, "SELECT * FROM studio_publish_comments WHERE post_id = %s", [post_id])
    return row


def make_due(db_url: str, post_id: str) -> None:
    db_rows(
        db_url,
        "UPDATE studio_publish_comments SET next_attempt_at = now() WHERE post_id = %s"
        " RETURNING post_id",
        [post_id],
    )


def test_first_comments_go_up_once_under_their_posts(
    tool: Tool, sandbox: Sandbox, schedule: Callable[..., str], db_url: str
) -> None:
    ids = {
        "instagram": schedule(
            "instagram", "--caption", "ig", "--media", f"{CDN}/a.jpg", "--first-comment", "#one"
        ),
        "facebook": schedule("facebook", "--caption", "fb", "--first-comment", "More below"),
        "threads": schedule("threads", "--caption", "th", "--first-comment", "A reply"),
    }
    summary = tool.json("run-due")
    assert summary["posted"] == 3, summary
    assert {c["state"] for c in summary["first_comments"]} == {"posted"}
    comments = sandbox.ledger.comments()
    assert sorted(c.text for c in comments) == ["#one", "A reply", "More below"]
    assert sandbox.ledger.comment_duplicates() == 0
    assert sandbox.ledger.count() == 3  # comments are not posts
    for platform, post_id in ids.items():
        assert post_status(db_url, post_id) == "posted"
        row = comment_row(db_url, post_id)
        assert row["state"] == "posted" and row["attempts"] == 1, row
        (entry,) = sandbox.ledger.comments(platform)
        assert row["comment_id"] == entry.comment_id
        detail = tool.json("status", post_id)
        assert detail["first_comment"]["comment_id"] == entry.comment_id
    assert "First comment: posted as" in tool.ok("status", ids["facebook"])
    # Nothing left to do: a later run sends nothing more.
    assert tool.json("run-due")["first_comments"] == []
    assert sandbox.ledger.comment_count() == 3


@pytest.mark.parametrize(
    ("platform", "endpoint"),
    [
        ("instagram", "graph.comments"),
        ("facebook", "graph.comments"),
        ("threads", "threads.reply_publish"),
    ],
)
def test_a_lost_answer_at_the_comment_step_never_makes_a_second_comment(
    tool: Tool,
    sandbox: Sandbox,
    schedule: Callable[..., str],
    db_url: str,
    platform: str,
    endpoint: str,
) -> None:
    media = ("--media", f"{CDN}/a.jpg") if platform == "instagram" else ()
    post_id = schedule(platform, "--caption", "lost", *media, "--first-comment", "Once only")
    sandbox.lose_response(endpoint, count=1)
    summary = tool.json("run-due")
    assert summary["posted"] == 1, summary
    assert sandbox.stats()["lost_responses"] == 1
    # The comment went up; its answer was lost; the listing found it: recorded, not resent.
    row = comment_row(db_url, post_id)
    assert row["state"] == "posted", row
    (entry,) = sandbox.ledger.comments(platform)
    assert row["comment_id"] == entry.comment_id
    make_due(db_url, post_id)
    tool.json("run-due")
    assert sandbox.ledger.comment_count() == 1 and sandbox.ledger.count() == 1


def test_a_comment_that_fails_for_now_is_retried_alone(
    tool: Tool, sandbox: Sandbox, schedule: Callable[..., str], db_url: str
) -> None:
    post_id = schedule("facebook", "--caption", "retried", "--first-comment", "Second try")
    # The request is lost on its way: to the client, an unclear answer; nothing is listed.
    sandbox.inject("graph.comments", "drop", count=1)
    assert tool.json("run-due")["posted"] == 1
    row = comment_row(db_url, post_id)
    assert row["state"] == "pending" and row["sent_at"] is not None, row
    assert sandbox.ledger.comment_count() == 0
    assert "First comment: pending" in tool.ok("status", post_id)
    make_due(db_url, post_id)
    (due,) = tool.json("run-due", "--dry-run")["first_comments"]
    assert due["id"] == post_id and due["would"].startswith("look for it on the platform")
    summary = tool.json("run-due")
    assert summary["claimed"] == 0, summary  # the post is never claimed again
    assert [c["state"] for c in summary["first_comments"]] == ["posted"]
    assert sandbox.ledger.count() == 1 and sandbox.ledger.comment_count() == 1
    row = comment_row(db_url, post_id)
    assert row["state"] == "posted" and row["attempts"] == 2 and row["sent_at"] is None
    assert sandbox.stats()["calls"].get("graph.comments_list", 0) >= 1  # looked first


def test_a_comment_that_fails_for_good_leaves_the_post_posted(
    tool: Tool, sandbox: Sandbox, schedule: Callable[..., str], db_url: str
) -> None:
    post_id = schedule("facebook", "--caption", "kept", "--first-comment", "Refused")
    sandbox.inject("graph.comments", "error", code=100, message="(#100) Comments are off")
    hook = {"STUDIO_PUBLISH_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/hook"}
    summary = tool.json("run-due", **hook)
    assert summary["outcome"] == "ok" and summary["posted"] == 1, summary
    assert post_status(db_url, post_id) == "posted"
    row = comment_row(db_url, post_id)
    assert row["state"] == "failed" and "Comments are off" in str(row["error"])
    out = tool.ok("status", post_id)
    assert "Warning: the first comment failed for good" in out and "is posted" in out
    assert tool.json("status")["failed_comments"][0]["id"] == post_id
    assert tool("status", "--check")[0] == 0  # a warning, not a problem
    (alert,) = db_rows(db_url, "SELECT event, payload FROM studio_publish_alerts")
    assert alert["event"] == "comment_failed" and alert["payload"]["post_id"] == post_id


def test_a_row_inserted_by_sql_gets_its_first_comment(
    tool: Tool, sandbox: Sandbox, accounts: dict[str, str], db_url: str
) -> None:
    (row,) = db_rows(
        db_url,
        "INSERT INTO studio_social_posts (workspace_id, social_account_id, platform, post_type,"
        " caption, media, options, status, scheduled_for) SELECT workspace_id, id, platform,"
        " 'image', 'by SQL', %s, %s, 'scheduled', now() FROM studio_social_accounts"
        " WHERE id = %s RETURNING id",
        [
            json.dumps([{"url": f"{CDN}/sql.jpg", "kind": "image"}]),
            json.dumps({"first_comment": "From the web app"}),
            accounts["instagram"],
        ],
    )
    assert tool.json("run-due")["posted"] == 1
    assert comment_row(db_url, str(row["id"]))["state"] == "posted"
    (entry,) = sandbox.ledger.comments("instagram")
    assert entry.text == "From the web app"


def test_platforms_without_comments_refuse_them(
    tool: Tool, accounts: dict[str, str], db_url: str
) -> None:
    code, out, err = tool(
        "schedule", "--account", accounts["instagram"], "--at", "now", "--type", "story",
        "--media", f"{CDN}/s.jpg", "--first-comment", "no", "--json",
    )  # fmt: skip
    assert code == 2, (out, err)
    error = json.loads(out)["error"]
    assert (
        error["field"] == "--first-comment" and "story posts take no comments" in error["message"]
    )
    tiktok = tool.ok(
        "accounts", "add", "--platform", "tiktok", "--platform-account-id", "open-fc",
        stdin="tt-token\n",
    )  # fmt: skip
    code, out, err = tool(
        "schedule", "--account", tiktok, "--at", "now", "--media", f"{CDN}/v.mp4",
        "--option", "privacy_level=SELF_ONLY", "--first-comment", "no",
    )  # fmt: skip
    assert code == 2 and "--first-comment: TikTok posts take no first comment" in err, (out, err)
    assert db_rows(db_url, "SELECT id FROM studio_social_posts") == []


def test_a_run_that_died_after_sending_a_comment_leaves_it_found_not_resent(
    tool: Tool, sandbox: Sandbox, schedule: Callable[..., str], db_url: str
) -> None:
    post_id = schedule(
        "instagram", "--caption", "c", "--media", f"{CDN}/c.jpg", "--first-comment", "Hi"
    )
    assert tool.json("run-due")["posted"] == 1
    (entry,) = sandbox.ledger.comments()
    # As a run that died between the send and the answer leaves it: claimed, marked sent,
    # its lease run out, no id recorded.
    db_rows(
        db_url,
        "UPDATE studio_publish_comments SET state = 'sending', claim_token = gen_random_uuid(),"
        " lease_expires_at = now() - interval '1 minute', sent_at = now() - interval '2 minutes',"
        " comment_id = NULL WHERE post_id = %s RETURNING post_id",
        [post_id],
    )
    summary = tool.json("run-due")
    assert summary["claimed"] == 0 and [c["state"] for c in summary["first_comments"]] == ["posted"]
    row = comment_row(db_url, post_id)
    assert row["comment_id"] == entry.comment_id and row["claim_token"] is None
    assert sandbox.ledger.comment_count() == 1 and sandbox.ledger.count() == 1
    assert sandbox.stats()["calls"]["graph.comments"] == 1


def test_an_instagram_login_account_comments_on_its_own_host(
    tool: Tool, sandbox: Sandbox, db_url: str
) -> None:
    account = tool.ok(
        "accounts", "add", "--platform", "instagram", "--login", "instagram",
        "--platform-account-id", "17841400000000043", "--token-expires-at", "+60d",
        stdin="IGAAQx-first-comment-e2e-token\n",
    )  # fmt: skip
    post_id = tool.ok(
        "schedule", "--account", account, "--at", "now", "--media", f"{CDN}/p.jpg",
        "--first-comment", "On graph.instagram.com",
    )  # fmt: skip
    sandbox.lose_response("graph.comments", count=1)
    assert tool.json("run-due")["posted"] == 1
    assert comment_row(db_url, post_id)["state"] == "posted"
    # The IGAA token is refused on the Graph host (190): the comment went to the Instagram one.
    assert sandbox.ledger.comment_count("instagram") == 1
    assert sandbox.stats()["violations"] == []


def test_a_post_confirmed_live_by_a_person_gets_its_first_comment(
    tool: Tool, sandbox: Sandbox, schedule: Callable[..., str], db_url: str
) -> None:
    post_id = schedule(
        "facebook", "--caption", "v", "--media", f"{CDN}/v.mp4", "--first-comment", "Confirmed"
    )
    sandbox.lose_response("graph.videos")  # unclear, and /videos cannot be listed: a person
    tool.json("run-due")
    assert post_status(db_url, post_id) == "needs_review"
    assert db_rows(db_url, "SELECT post_id FROM studio_publish_comments") == []
    (live,) = sandbox.ledger.entries("facebook")
    tool.ok("confirm-live", post_id, "--platform-post-id", live.platform_post_id)
    summary = tool.json("run-due")
    assert summary["claimed"] == 0 and [c["state"] for c in summary["first_comments"]] == ["posted"]
    (comment,) = sandbox.ledger.comments("facebook")
    assert (comment.parent, comment.text) == (live.platform_post_id, "Confirmed")
