"""The settings loader (settings.py): where a value is read from, first found wins, and
what each kind of setting accepts. The CLI's side (exit 2 naming the variable) is in
tests/integration/test_settings.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from studio_publish.settings import PREFIX, Secret, SettingError, Settings


@pytest.fixture(autouse=True)
def bare_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No setting of the machine's, and a working folder of the test's own (for .env)."""
    for name in list(__import__("os").environ):
        if name.upper().startswith(PREFIX) or name.upper() in ("DATABASE_URL", "CRON_SECRET"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_the_defaults_without_anything_set() -> None:
    loaded = Settings()
    assert (loaded.concurrency, loaded.log_format, loaded.database_url) == (16, "auto", None)
    assert loaded.graph_api_base == "https://graph.facebook.com/v25.0"
    assert loaded.changed_api_bases() == {}


def test_names_are_read_in_any_case_and_the_environment_wins_over_the_dotenv_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Path(".env").write_text(
        "# a comment\n"
        "export STUDIO_PUBLISH_CONCURRENCY=3\n"
        'STUDIO_PUBLISH_LOG_FORMAT="json"\n'
        "STUDIO_PUBLISH_MAX_ATTEMPTS=9\n"
        "DATABASE_URL=postgresql://from-file/db\n"
    )
    monkeypatch.setenv("studio_publish_max_attempts", "7")
    monkeypatch.setenv("STUDIO_PUBLISH_DATABASE_URL", "postgresql://from-env/db")

    loaded = Settings()

    assert (loaded.concurrency, loaded.log_format, loaded.max_attempts) == (3, "json", 7)
    # Any of a setting's names in the environment beats all of them in the file.
    assert loaded.database_url == "postgresql://from-env/db"
    assert Settings(_env_file=None).concurrency == 16  # the file not read


def test_the_first_of_a_settings_names_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://first/db")
    monkeypatch.setenv("STUDIO_PUBLISH_DATABASE_URL", "postgresql://second/db")
    assert Settings().database_url == "postgresql://first/db"


def test_arguments_win_and_are_checked_as_text_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUDIO_PUBLISH_CONCURRENCY", "abc")  # not read: the argument wins
    assert Settings(concurrency=4).concurrency == 4
    with pytest.raises(SettingError) as caught:
        Settings(concurrency=0, _env_file=None)
    assert caught.value.variable == "STUDIO_PUBLISH_CONCURRENCY"
    with pytest.raises(TypeError):
        Settings(concurency=4)  # a misspelt setting in code is a bug, not ignored


@pytest.mark.parametrize(
    ("variable", "text", "value"),
    [
        ("STUDIO_PUBLISH_CONCURRENCY", " 8 ", 8),
        ("STUDIO_PUBLISH_CONCURRENCY", "+8", 8),
        ("STUDIO_PUBLISH_CONCURRENCY", "8.0", 8),
        ("STUDIO_PUBLISH_RUN_BUDGET_SECONDS", "1e1", 10.0),
        (
            "STUDIO_PUBLISH_GRAPH_API_BASE",
            "http://127.0.0.1:8080/v25.0/",
            "http://127.0.0.1:8080/v25.0",
        ),
        ("STUDIO_PUBLISH_TIKTOK_CLIENT_KEY", "", None),
        ("STUDIO_PUBLISH_ALERT_WEBHOOK_URL", "", None),
        ("STUDIO_PUBLISH_PREFLIGHT_HOURS", "0", 0.0),
    ],
)
def test_good_text(
    monkeypatch: pytest.MonkeyPatch, variable: str, text: str, value: object
) -> None:
    monkeypatch.setenv(variable, text)
    assert getattr(Settings(), variable.removeprefix(PREFIX).lower()) == value


@pytest.mark.parametrize(
    ("variable", "text", "problem"),
    [
        ("STUDIO_PUBLISH_CONCURRENCY", "8.5", "must be a whole number"),
        ("STUDIO_PUBLISH_CONCURRENCY", "", "must be a whole number"),
        ("STUDIO_PUBLISH_CONCURRENCY", "1025", "must be at most 1024"),
        ("STUDIO_PUBLISH_LEASE_SECONDS", "9", "must be at least 10"),
        ("STUDIO_PUBLISH_RUN_BUDGET_SECONDS", "0", "must be more than 0"),
        ("STUDIO_PUBLISH_RUN_BUDGET_SECONDS", "inf", "must be a finite number"),
        ("STUDIO_PUBLISH_RUN_BUDGET_SECONDS", "nan", "must be a finite number"),
        ("STUDIO_PUBLISH_LOG_FORMAT", "JSON", "must be one of auto, json, console"),
        ("STUDIO_PUBLISH_THREADS_API_BASE", "graph.threads.net", "must be an http(s) URL"),
        ("DATABASE_URL", "host=a port", "cannot be parsed as a libpq URL"),
    ],
)
def test_bad_text_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, text: str, problem: str
) -> None:
    monkeypatch.setenv(variable, text)
    with pytest.raises(SettingError) as caught:
        Settings()
    assert caught.value.variable == variable and caught.value.problem.startswith(problem)


def test_a_secret_never_shows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRON_SECRET", "hook-secret-123")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:Pa55word@db/x")
    monkeypatch.setenv("STUDIO_PUBLISH_ALERT_WEBHOOK_URL", "https://hooks.example/T0K3N")
    monkeypatch.setenv("STUDIO_PUBLISH_TIKTOK_CLIENT_SECRET", "")
    loaded = Settings()
    assert loaded.cron_secret == Secret("hook-secret-123")
    assert loaded.cron_secret is not None
    assert loaded.cron_secret.get_secret_value() == "hook-secret-123"
    for secret in ("hook-secret-123", "Pa55word", "T0K3N"):
        assert secret not in repr(loaded) + str(loaded)
    assert loaded.tiktok_client_secret is None  # blank: unset


def test_a_copy_is_checked_and_keeps_the_rest() -> None:
    loaded = Settings(concurrency=5, _env_file=None)
    shorter = loaded.copy_with(run_budget_seconds=12)
    assert (shorter.concurrency, shorter.run_budget_seconds) == (5, 12.0)
    with pytest.raises(SettingError):
        loaded.copy_with(run_budget_seconds=-1)


NUMERIC = [
    "CONCURRENCY",
    "LEASE_SECONDS",
    "MAX_ATTEMPTS",
    "RUN_BUDGET_SECONDS",
    "PREFLIGHT_HOURS",
    "ALERT_TIMEOUT_SECONDS",
    "MAX_LATENESS_SECONDS",
]


@settings(max_examples=300, deadline=None)
@given(
    name=st.sampled_from(NUMERIC),
    text=st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)))
    | st.from_regex(r"[ +-]?[0-9._e]{1,8} ?", fullmatch=True),
)
def test_any_text_is_a_value_within_bounds_or_an_error_naming_the_variable(
    name: str, text: str
) -> None:
    variable = PREFIX + name
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(variable, text)
        try:
            value = getattr(Settings(_env_file=None), name.lower())
        except SettingError as error:
            assert error.variable == variable
            return
    assert isinstance(value, int | float) and value == value and value >= 0
