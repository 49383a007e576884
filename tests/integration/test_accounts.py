"""`accounts add` and `accounts list`: tokens come in on stdin or through a named
environment variable, and never come out again."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from support.cli import Cli, make_runner
from support.database import throwaway_database

TOKEN = "EAAGtok3nSECRETvalue1234567890"
REFRESH = "rft.SECRETrefresh987654321"
DEFAULT_WORKSPACE = "00000000-0000-0000-0000-000000000000"


def accounts(db_url: str) -> list[dict[str, Any]]:
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        return conn.execute("SELECT * FROM studio_social_accounts ORDER BY created_at").fetchall()


def add_args(platform: str = "instagram", account: str = "17841400000000001", *extra: str) -> list:
    return ["accounts", "add", "--platform", platform, "--platform-account-id", account, *extra]


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert TOKEN not in text
        assert REFRESH not in text
        # Not even a recognisable part of one.
        assert "SECRET" not in text


@pytest.fixture(scope="module")
def shared_db_url(pg_server_url: str) -> Iterator[str]:
    """One migrated database for the many refusal tests (each checks it wrote nothing)."""
    with throwaway_database(pg_server_url) as url:
        yield url


@pytest.fixture
def shared_cli(
    shared_db_url: str, monkeypatch: pytest.MonkeyPatch, clean_env: None
) -> Iterator[Cli]:
    """The CLI on the shared database; fails the test if the accounts table changed."""
    monkeypatch.setenv("DATABASE_URL", shared_db_url)
    before = accounts(shared_db_url)
    yield make_runner()
    assert accounts(shared_db_url) == before, "a refused command wrote an account"


# --- adding -----------------------------------------------------------------------------------


def test_add_reads_the_token_from_stdin_and_prints_only_the_id(cli: Cli, db_url: str) -> None:
    result = cli(
        *add_args("instagram", "17841400000000001", "--name", "Main IG"), input=TOKEN + "\n"
    )

    assert result.exit_code == 0, result.stderr
    assert_no_secret(result.stdout, result.stderr)
    printed = result.stdout.strip()
    assert str(uuid.UUID(printed)) == printed  # exactly the new id, nothing else
    [row] = accounts(db_url)
    assert str(row["id"]) == printed
    assert row["access_token"] == TOKEN
    assert row["refresh_token"] is None
    assert row["platform"] == "instagram"
    assert row["platform_account_id"] == "17841400000000001"
    assert row["name"] == "Main IG"
    assert str(row["workspace_id"]) == DEFAULT_WORKSPACE
    assert row["state"] == "active"


def test_adding_an_account_the_workspace_has_is_refused_naming_it(cli: Cli, db_url: str) -> None:
    first = cli(*add_args("instagram", "17841400000000001"), input=TOKEN + "\n")
    assert first.exit_code == 0, first.stderr
    account_id = first.stdout.strip()

    again = cli(*add_args("instagram", "17841400000000001"), input=TOKEN + "x\n")

    assert again.exit_code == 2, again.stdout
    [line] = again.stderr.strip().splitlines()
    assert "platform-account-id" in line and account_id in line and "reauth" in line
    assert_no_secret(again.stdout, again.stderr)
    assert [str(r["id"]) for r in accounts(db_url)] == [account_id]  # nothing written
    assert accounts(db_url)[0]["access_token"] == TOKEN
    # The same id on another platform, or in another workspace, is another account.
    other = cli(*add_args("facebook", "17841400000000001"), input=TOKEN + "\n")
    elsewhere = cli(
        *add_args("instagram", "17841400000000001"),
        "--workspace",
        str(uuid.uuid4()),
        input=TOKEN + "\n",
    )
    assert other.exit_code == 0 and elsewhere.exit_code == 0, (other.stderr, elsewhere.stderr)
    assert len(accounts(db_url)) == 3


def test_add_reads_tokens_from_the_named_environment_variables(cli: Cli, db_url: str) -> None:
    workspace = str(uuid.uuid4())
    result = cli(
        *add_args(
            "tiktok",
            "open-id-123",
            "--access-token-env",
            "TT_ACCESS",
            "--refresh-token-env",
            "TT_REFRESH",
            "--workspace",
            workspace,
            "--token-expires-at",
            "2031-01-01T00:00:00Z",
        ),
        # Whatever is on stdin is not the token when --access-token-env is given.
        input="not-the-token\n",
        env={"TT_ACCESS": TOKEN, "TT_REFRESH": REFRESH},
    )

    assert result.exit_code == 0, result.stderr
    assert_no_secret(result.stdout, result.stderr)
    [row] = accounts(db_url)
    assert row["access_token"] == TOKEN
    assert row["refresh_token"] == REFRESH
    assert str(row["workspace_id"]) == workspace
    assert row["token_expires_at"].isoformat() == "2031-01-01T00:00:00+00:00"


def test_add_json_prints_one_document_without_the_token(cli: Cli, db_url: str) -> None:
    result = cli(*add_args("facebook", "1029384756", "--json"), input=TOKEN + "\n")

    assert result.exit_code == 0, result.stderr
    assert_no_secret(result.stdout, result.stderr)
    document = result.json()  # the whole of stdout is one JSON document
    [row] = accounts(db_url)
    assert document["id"] == str(row["id"])
    assert document["platform"] == "facebook"
    assert document["platform_account_id"] == "1029384756"
    assert not {"access_token", "refresh_token"} & set(document)


def test_an_instagram_login_account_keeps_its_login_in_its_options(cli: Cli, db_url: str) -> None:
    ig_token = "IGAAtok3nSECRETvalue1234567890"
    added = cli(*add_args("instagram", "17841", "--login", "instagram", "--json"), input=ig_token)
    default = cli(*add_args("instagram", "17842"), input=TOKEN + "\n")

    assert added.exit_code == 0 and default.exit_code == 0, (added.stderr, default.stderr)
    assert added.json()["login"] == "instagram"
    assert_no_secret(added.stdout, added.stderr)
    assert ig_token not in added.stdout + added.stderr
    ig_login, facebook_login = accounts(db_url)
    assert ig_login["options"] == {"login": "instagram"} and ig_login["access_token"] == ig_token
    assert facebook_login["options"] == {}  # no --login: Facebook Login, the default
    listed = {
        row["platform_account_id"]: row["login"] for row in cli("accounts", "list", "--json").json()
    }
    assert listed == {"17841": "instagram", "17842": "facebook"}  # the default, named


def test_a_token_is_never_taken_as_an_argument(cli: Cli, db_url: str) -> None:
    result = cli(*add_args("instagram", "1", "--access-token", TOKEN))

    assert result.exit_code == 2
    assert_no_secret(result.stdout, result.stderr)
    assert accounts(db_url) == []


# --- refusing -------------------------------------------------------------------------------

BAD_ADDS = [
    pytest.param(add_args("myspace", "1"), TOKEN + "\n", {}, "--platform", id="bad-platform"),
    pytest.param(
        add_args("instagram", "1", "--login", "threads"), TOKEN + "\n", {}, "--login", id="login"
    ),
    pytest.param(
        add_args("facebook", "1", "--login", "facebook"),
        TOKEN + "\n",
        {},
        "--login",
        id="login-of-a-platform-with-one",
    ),
    pytest.param(
        add_args("facebook", "../me/accounts"),
        TOKEN + "\n",
        {},
        "--platform-account-id",
        id="id-with-a-path",  # the id goes into API paths
    ),
    pytest.param(add_args("Instagram ", "1"), TOKEN + "\n", {}, "--platform", id="platform-case"),
    pytest.param(add_args("instagram", "1"), "\n", {}, "access token", id="empty-token"),
    pytest.param(add_args("instagram", "1"), "   \n", {}, "access token", id="blank-token"),
    pytest.param(add_args("instagram", "1"), "", {}, "access token", id="no-stdin"),
    pytest.param(
        add_args("instagram", "1", "--workspace", "not-a-uuid"),
        TOKEN + "\n",
        {},
        "--workspace",
        id="bad-workspace",
    ),
    pytest.param(
        add_args("instagram", "   "), TOKEN + "\n", {}, "--platform-account-id", id="blank-account"
    ),
    pytest.param(
        add_args("instagram", "1", "--access-token-env", "NO_SUCH_TOKEN_VAR"),
        "",
        {},
        "--access-token-env",
        id="missing-env",
    ),
    pytest.param(
        add_args("instagram", "1", "--access-token-env", "EMPTY_TOKEN_VAR"),
        "",
        {"EMPTY_TOKEN_VAR": ""},
        "--access-token-env",
        id="empty-env",
    ),
    pytest.param(
        add_args("tiktok", "1", "--refresh-token-env", "NO_SUCH_REFRESH_VAR"),
        TOKEN + "\n",
        {},
        "--refresh-token-env",
        id="missing-refresh-env",
    ),
    pytest.param(
        add_args("instagram", "1", "--token-expires-at", "next tuesday"),
        TOKEN + "\n",
        {},
        "--token-expires-at",
        id="bad-expiry",
    ),
    pytest.param(
        add_args("instagram", "1", "--token-expires-at", "2031-01-01T00:00:00"),
        TOKEN + "\n",
        {},
        "--token-expires-at",
        id="expiry-without-zone",
    ),
    pytest.param(
        add_args("tiktok", "1", "--option", "pull=yes"),
        TOKEN + "\n",
        {},
        "--option",
        id="bad-option",
    ),
    pytest.param(
        add_args("instagram", "1", "--name", "bad\x00name"),
        TOKEN + "\n",
        {},
        "--name",
        id="nul-in-name",
    ),
    pytest.param(
        add_args("instagram", "1"), TOKEN + "\x00junk\n", {}, "access token", id="nul-in-token"
    ),
    # A token goes into a header as it is: a line break would add headers of its own.
    pytest.param(
        add_args("instagram", "1"), TOKEN + " second half\n", {}, "access token", id="space"
    ),
    pytest.param(  # not cut at the line break: refused whole
        add_args("instagram", "1"), TOKEN + "\nsecond line\n", {}, "access token", id="two-lines"
    ),
    pytest.param(
        add_args("instagram", "1", "--access-token-env", "IG_TOKEN"),
        "",
        {"IG_TOKEN": TOKEN + "\r\nX-Injected: 1"},
        "access token",
        id="line-break-in-token",
    ),
    pytest.param(
        add_args("instagram", "1", "--refresh-token-env", "IG_REFRESH"),
        TOKEN + "\n",
        {"IG_REFRESH": "rft.1\u200b"},  # a zero-width space pasted from a web page
        "refresh token",
        id="invisible-in-refresh-token",
    ),
]


@pytest.mark.parametrize(("args", "stdin", "env", "field"), BAD_ADDS)
@pytest.mark.parametrize("as_json", [False, True], ids=["human", "json"])
def test_bad_input_gives_exit_2_naming_the_field_and_writes_nothing(
    shared_cli: Cli,
    args: list[str],
    stdin: str,
    env: dict[str, str],
    field: str,
    as_json: bool,
) -> None:
    result = shared_cli(*args, *(["--json"] if as_json else []), input=stdin, env=env)

    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert field in lines[0]
    result.assert_error_stdout()
    assert_no_secret(result.stdout, result.stderr)


def test_the_missing_variable_is_named(shared_cli: Cli) -> None:
    result = shared_cli(*add_args("instagram", "1", "--access-token-env", "IG_PAGE_TOKEN"))

    assert result.exit_code == 2
    assert "IG_PAGE_TOKEN" in result.stderr


def test_no_error_shows_the_token_when_the_database_is_down(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nowhere")

    result = cli(*add_args("instagram", "1"), input=TOKEN + "\n")

    assert result.exit_code == 3
    assert_no_secret(result.stdout, result.stderr)


# --- listing ----------------------------------------------------------------------------------


@pytest.fixture
def two_accounts(cli: Cli) -> list[str]:
    ids = []
    for args, stdin, env in [
        (add_args("instagram", "17841400000000001", "--name", "Main"), TOKEN + "\n", {}),
        (
            add_args("tiktok", "open-id-9", "--name", "Clips", "--refresh-token-env", "R"),
            TOKEN + "\n",
            {"R": REFRESH},
        ),
    ]:
        result = cli(*args, input=stdin, env=env)
        assert result.exit_code == 0, result.stderr
        ids.append(result.stdout.strip())
    return ids


def test_list_json_shows_the_accounts_and_never_a_token(
    cli: Cli, two_accounts: list[str], db_url: str
) -> None:
    result = cli("accounts", "list", "--json")

    assert result.exit_code == 0, result.stderr
    assert_no_secret(result.stdout, result.stderr)
    listed = result.json()
    assert sorted(a["id"] for a in listed) == sorted(two_accounts)
    by_platform = {a["platform"]: a for a in listed}
    assert by_platform["instagram"]["name"] == "Main"
    assert by_platform["instagram"]["state"] == "active"
    assert by_platform["tiktok"]["platform_account_id"] == "open-id-9"
    assert by_platform["tiktok"]["has_refresh_token"] is True
    assert by_platform["instagram"]["has_refresh_token"] is False
    for account in listed:
        assert not {"access_token", "refresh_token"} & set(account)
        assert "token_expires_at" in account
    # The tokens are stored, so their absence above is not an accident of an empty column.
    assert {row["access_token"] for row in accounts(db_url)} == {TOKEN}


def test_list_shows_platform_name_and_state_and_never_a_token(
    cli: Cli, two_accounts: list[str]
) -> None:
    # A wide terminal: every column fits (see the 80-column test below).
    result = cli("accounts", "list", env={"COLUMNS": "160"})

    assert result.exit_code == 0, result.stderr
    assert_no_secret(result.stdout, result.stderr)
    for expected in [*two_accounts, "instagram", "tiktok", "Main", "Clips", "active"]:
        assert expected in result.stdout


def test_list_shows_the_platform_on_an_80_column_terminal(
    cli: Cli, two_accounts: list[str]
) -> None:
    result = cli("accounts", "list", env={"COLUMNS": "80"})

    assert result.exit_code == 0, result.stderr
    assert "instagram" in result.stdout
    assert "tiktok" in result.stdout


def test_list_on_no_accounts(cli: Cli) -> None:
    human = cli("accounts", "list")
    as_json = cli("accounts", "list", "--json")

    assert human.exit_code == 0 and as_json.exit_code == 0
    assert "accounts add" in human.stdout
    assert as_json.json() == []
    assert json.loads(as_json.stdout) == []
