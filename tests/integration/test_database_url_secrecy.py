"""DATABASE_URL's password never shows, however the URL is written: not in the target's
description, not in libpq's error text, not in the exit-2 message for a malformed URL."""

from __future__ import annotations

from urllib.parse import quote

import psycopg
import pytest
from support.cli import make_runner

from studio_publish.errors import ConfigError
from studio_publish.settings import load_settings
from studio_publish.store import db

PASSWORD = "se/cr@etPW"
# What a wrong split of the URL would leave lying around.
FRAGMENTS = [PASSWORD, "etPW", "se/cr", "cr@et", "se%2Fcr", quote(PASSWORD, safe="")]

# Each points at a closed port: the CLI must say so (exit 3), and nothing more.
REACHABLE_FORMS = [
    pytest.param("postgresql://app:se%2Fcr%40etPW@127.0.0.1:1/db", id="escaped"),
    pytest.param("postgresql://app:se%2fcr%40etPW@127.0.0.1:1/db", id="escaped-lower-hex"),
    pytest.param("postgresql://app:se/cr@etPW@127.0.0.1:1/db", id="slash-and-at-unescaped"),
    pytest.param("postgres://app:se/cr%40etPW@127.0.0.1:1/db", id="slash-unescaped"),
    pytest.param("postgresql://app:se%2Fcr@etPW@127.0.0.1:1/db", id="at-unescaped"),
    pytest.param("postgresql://app@server:se/cr@etPW@127.0.0.1:1/db", id="at-in-user-too"),
    pytest.param("postgresql://app@127.0.0.1:1/db?password=se/cr@etPW", id="query"),
    pytest.param("postgresql://app@127.0.0.1:1/db?password=se%2Fcr%40etPW", id="query-escaped"),
    pytest.param(
        "postgresql://app:se/cr@etPW@127.0.0.1:1/db?sslmode=disable", id="unescaped-with-query"
    ),
    pytest.param("host=127.0.0.1 port=1 dbname=db user=app password=se/cr@etPW", id="keyword"),
    pytest.param(
        "host=127.0.0.1 port=1 dbname=db user=app password='se/cr@etPW'", id="keyword-quoted"
    ),
]

MALFORMED_FORMS = [
    pytest.param("postgresql://app:se/cr@etPW@127.0.0.1:1/db?bogus=etPW", id="bad-parameter"),
    pytest.param("postgresql://app:se/cr@etPW%zz@127.0.0.1:1/db", id="bad-escape"),
    pytest.param("postgresql://app:se/cr@etPW@[::1/db", id="bad-host"),
    pytest.param(
        "postgresql://app@127.0.0.1:1/db?password=se/cr@etPW&se/cr@etPW", id="bad-query-pair"
    ),
    pytest.param("host=127.0.0.1 port=1 password=se/cr @etPW", id="keyword-unquoted-space"),
    pytest.param("host=127.0.0.1 port=1 password='se/cr@etPW", id="keyword-unterminated"),
]


def assert_no_trace(*texts: str) -> None:
    for text in texts:
        for fragment in FRAGMENTS:
            assert fragment not in text, (fragment, text)


# --- through the CLI ------------------------------------------------------------------------


@pytest.mark.parametrize("command", [("status",), ("accounts", "list")])
@pytest.mark.parametrize("url", REACHABLE_FORMS)
def test_an_unreachable_database_shows_no_part_of_the_password(
    monkeypatch: pytest.MonkeyPatch, clean_env: None, url: str, command: tuple[str, ...]
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)

    result = make_runner()(*command)

    assert result.exit_code == 3, result.stdout + result.stderr
    assert result.stdout == ""
    assert result.error_message().startswith("cannot reach database db on 127.0.0.1:1: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert_no_trace(result.stdout, result.stderr, result.error_message())


@pytest.mark.parametrize("url", MALFORMED_FORMS)
def test_a_malformed_url_is_exit_2_and_shows_no_part_of_the_password(
    monkeypatch: pytest.MonkeyPatch, clean_env: None, url: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", url)

    result = make_runner()("status")

    assert result.exit_code == 2, result.stdout + result.stderr
    assert result.error_message().startswith("DATABASE_URL: cannot be parsed as a libpq URL")
    assert len(result.stderr.strip().splitlines()) == 1
    assert_no_trace(result.stdout, result.stderr, result.error_message())


def test_a_malformed_url_still_says_what_is_wrong(
    monkeypatch: pytest.MonkeyPatch, clean_env: None
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:se/cr@etPW@127.0.0.1:1/db?bogus=1")

    result = make_runner()("status")

    assert result.exit_code == 2
    assert 'invalid URI query parameter: "…"' in result.error_message()


def test_an_unescaped_password_connects_as_meant(
    db_url: str, monkeypatch: pytest.MonkeyPatch, clean_env: None
) -> None:
    """Not only hidden: the user, host and database after the password are the right ones."""
    info = psycopg.conninfo.conninfo_to_dict(db_url)
    host, port = str(info.get("host") or ""), str(info.get("port") or "5432")
    user, dbname = str(info.get("user") or "postgres"), str(info["dbname"])
    if host.startswith("/"):  # the embedded server: a socket folder, given as a parameter
        url = f"postgresql://{user}:{PASSWORD}@/{dbname}?host={host}&port={port}"
    else:
        url = f"postgresql://{user}:{PASSWORD}@{host}:{port}/{dbname}"
    if info.get("password"):
        pytest.skip("the test server needs its own password")
    monkeypatch.setenv("DATABASE_URL", url)

    result = make_runner()("status", "--json")

    assert result.exit_code == 0, result.stderr
    assert_no_trace(result.stdout, result.stderr)


# --- the pieces -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:se/cr@etPW@127.0.0.1:1/db",
        "postgresql://app:se@cr@etPW@127.0.0.1:1/db",
        "postgresql://app:se%2Fcr%40etPW@127.0.0.1:1/db",
        "postgresql://app:se/cr@etPW@127.0.0.1:1/db?connect_timeout=3",
        "postgresql://app@127.0.0.1:1/db?password=se/cr@etPW",
    ],
)
def test_libpq_reads_user_password_host_and_database_as_meant(url: str) -> None:
    info = psycopg.conninfo.conninfo_to_dict(db.libpq_url(url))
    assert info["user"] == "app" and info["host"] == "127.0.0.1" and info["port"] == "1"
    assert info["dbname"] == "db"
    assert info["password"] in (PASSWORD, "se@cr@etPW")
    assert db.libpq_url(db.libpq_url(url)) == db.libpq_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:pw@db.example:5432/app",
        "postgresql://db.example/app?user=me@corp",  # an "@" in the query is no user info
        "postgresql:///app?host=/run/postgresql",
        "host=db.example dbname=app",
    ],
)
def test_a_url_written_correctly_is_left_alone(url: str) -> None:
    assert db.libpq_url(url) == url


@pytest.mark.parametrize("url", [p.values[0] for p in REACHABLE_FORMS])
def test_the_description_holds_only_what_follows_the_user_info(url: str) -> None:
    description = db.describe_url(url)
    assert description == "database db on 127.0.0.1:1"
    target = db.DatabaseTarget(url, False, description)
    assert_no_trace(target.description)


def test_the_description_never_holds_the_user_info_even_if_libpq_disagrees() -> None:
    # A database named like the password (or the user info) is not shown either.
    url = "postgresql://app:se/cr@etPW@127.0.0.1:1/se%2Fcr%40etPW"
    assert_no_trace(db.describe_url(url))


def test_the_password_candidates() -> None:
    secrets = db.url_secrets("postgresql://app:se/cr@etPW@127.0.0.1:1/db")
    assert {"app:se/cr@etPW", PASSWORD} <= set(secrets)
    secrets = db.url_secrets("postgresql://app:se%2Fcr%40etPW@127.0.0.1:1/db")
    assert {"app:se%2Fcr%40etPW", "se%2Fcr%40etPW", "app:se/cr@etPW", PASSWORD} <= set(secrets)
    assert PASSWORD in db.url_secrets("postgresql://app@h/db?password=se%2Fcr%40etPW")
    assert PASSWORD in db.url_secrets("host=h password='se/cr@etPW'")
    assert "se/cr" in db.url_secrets("host=h password=se/cr @etPW")  # unparseable: every piece
    assert db.url_secrets("postgresql://app@h/db") == []  # a user name is no password


def test_libpq_error_text_loses_every_form_of_the_password() -> None:
    target = db.DatabaseTarget("postgresql://app:se/cr@etPW@127.0.0.1:1/db", False, "x")
    for echoed in (PASSWORD, quote(PASSWORD, safe=""), "app:se/cr@etPW", "se%2fcr%40etPW"):
        error = psycopg.OperationalError(f'FATAL: no pg_hba.conf entry for "{echoed}"\nDETAIL')
        message = str(db.unreachable(target, error))
        assert message.startswith("cannot reach x: FATAL: no pg_hba.conf entry for")
        assert "[redacted]" in message
        assert_no_trace(message, db.first_line(error))


def test_load_settings_reports_a_malformed_url_without_it(
    monkeypatch: pytest.MonkeyPatch, clean_env: None
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://app:se/cr@etPW%zz@127.0.0.1:1/db")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value).startswith("DATABASE_URL: cannot be parsed")
    assert_no_trace(str(caught.value), repr(caught.value))


def test_settings_keep_an_unescaped_url_as_written(
    monkeypatch: pytest.MonkeyPatch, clean_env: None
) -> None:
    url = "postgresql://app:se/cr@etPW@127.0.0.1:1/db"
    monkeypatch.setenv("DATABASE_URL", url)
    settings = load_settings()
    assert settings.database_url == url
    target = db.resolve_target(settings)
    assert target.url == "postgresql://app:se%2Fcr%40etPW@127.0.0.1:1/db"
    assert target.description == "database db on 127.0.0.1:1"
