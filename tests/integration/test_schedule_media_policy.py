"""`schedule` applies the media policy too: exit 2 naming the setting, nothing written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from support.cli import Cli, CliResult


def count_posts(cli: Cli) -> int:
    result = cli("status", "--json")
    assert result.exit_code == 0, result.stderr
    return sum(n for by_platform in result.json()["counts"].values() for n in by_platform.values())


@pytest.fixture
def facebook(add_account: Callable[..., str]) -> str:
    return add_account("facebook", "1234567890")


def schedule(cli: Cli, account: str, *media: str, env: dict[str, str] | None = None) -> CliResult:
    args = ["schedule", "--account", account, "--at", "+1h", "--caption", "hi"]
    for item in media:
        args += ["--media", item]
    return cli(*args, env=env)


@pytest.mark.parametrize(
    ("media", "setting"),
    [
        ("http://127.0.0.1:5432/a.jpg", "STUDIO_PUBLISH_MEDIA_ALLOW_HOSTS"),
        ("http://0x7f000001/a.jpg", "STUDIO_PUBLISH_MEDIA_ALLOW_HOSTS"),
        ("http://169.254.169.254/a.jpg", "STUDIO_PUBLISH_MEDIA_ALLOW_HOSTS"),
        ("http://localhost/a.jpg", "STUDIO_PUBLISH_MEDIA_ALLOW_HOSTS"),
        ("/etc/passwd", "STUDIO_PUBLISH_MEDIA_ROOT"),
        ("../outside.jpg", "STUDIO_PUBLISH_MEDIA_ROOT"),
    ],
)
def test_refused_media_is_exit_2_naming_the_setting(
    cli: Cli, facebook: str, tmp_path: Path, media: str, setting: str
) -> None:
    (tmp_path.parent / "outside.jpg").write_bytes(b"x")
    result = schedule(cli, facebook, media)
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "--media" in line and setting in line
    assert len(line.splitlines()) == 1
    assert count_posts(cli) == 0


def test_without_a_media_root_local_files_are_refused(
    cli: Cli, facebook: str, tmp_path: Path
) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"x")
    result = schedule(cli, facebook, "photo.jpg", env={"STUDIO_PUBLISH_MEDIA_ROOT": ""})
    assert result.exit_code == 2
    assert "STUDIO_PUBLISH_MEDIA_ROOT" in result.stderr
    assert count_posts(cli) == 0


def test_hidden_files_inside_the_root_are_never_media(
    cli: Cli, facebook: str, tmp_path: Path
) -> None:
    (tmp_path / ".env.jpg").write_text("SECRET=1")
    result = schedule(cli, facebook, ".env.jpg")
    assert result.exit_code == 2
    assert "hidden" in result.stderr


def test_allowed_hosts_and_files_in_the_root_are_scheduled(
    cli: Cli, facebook: str, tmp_path: Path
) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"x")
    env = {"STUDIO_PUBLISH_MEDIA_ALLOW_HOSTS": "127.0.0.1"}
    assert schedule(cli, facebook, "http://127.0.0.1:8080/a.jpg", env=env).exit_code == 0
    assert schedule(cli, facebook, "photo.jpg").exit_code == 0
    assert count_posts(cli) == 2


def test_a_bad_media_setting_is_exit_2(cli: Cli, facebook: str) -> None:
    result = schedule(
        cli,
        facebook,
        "https://cdn.example/a.jpg",
        env={"STUDIO_PUBLISH_MEDIA_ALLOW_HOSTS": "10.0.0.0/33"},
    )
    assert result.exit_code == 2
    assert "STUDIO_PUBLISH_MEDIA_ALLOW_HOSTS" in result.stderr
