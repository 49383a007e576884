"""The embedded PostgreSQL stays up between commands: `status` says so, `db stop` stops it."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.cli import Cli, make_runner

from studio_publish.store import db


def serving(data_dir: Path) -> list[int]:
    """Live (not zombie) processes whose command line names the data folder."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if str(data_dir).encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_status_shows_the_embedded_server_and_db_stop_stops_it(
    tmp_path: Path, clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "pg"
    monkeypatch.setenv("STUDIO_PUBLISH_DATA_DIR", str(data_dir))
    cli = make_runner()
    try:
        assert cli("db", "migrate").exit_code == 0
        status = cli("status", "--json").json()
        embedded = status["embedded_postgres"]
        assert embedded["data_dir"] == str(data_dir) and embedded["running"] is True
        pid = embedded["pid"]
        text = cli("status", env={"COLUMNS": "200"}).stdout
        assert f"Embedded PostgreSQL: running (pid {pid}), data in {data_dir}" in text
        assert "studio-publish db stop" in text

        assert pid in serving(data_dir)
        stopped = cli("db", "stop")
        assert stopped.exit_code == 0, stopped.stderr
        assert stopped.stdout.strip() == f"Stopped the embedded PostgreSQL in {data_dir}."
        assert db.embedded_pid(data_dir) is None
        assert not serving(data_dir)

        again = cli("db", "stop", "--json")
        assert again.exit_code == 0 and again.json() == {
            "data_dir": str(data_dir),
            "stopped": False,
        }
    finally:
        db.stop_embedded(data_dir)  # nothing outlives the test


def test_db_stop_with_a_database_url_is_a_no_op(
    clean_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/x")
    result = make_runner()("db", "stop")
    assert result.exit_code == 0
    assert "DATABASE_URL is set" in result.stdout


def test_status_with_a_database_url_names_no_embedded_server(cli: Cli) -> None:
    result = cli("status", "--json")
    assert result.json()["embedded_postgres"] is None


def test_a_runtime_folder_of_ours_open_to_others_is_closed_not_replaced_by_tmp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pgserver's lock folder lives in ~/.cache/studio-publish/runtime; one left group- or
    world-readable is made private again, and nothing is created in the temp folder."""
    from studio_publish.store import db

    home, temp = tmp_path / "home", tmp_path / "temp"
    runtime = home / ".cache" / "studio-publish" / "runtime"
    runtime.mkdir(parents=True)
    runtime.chmod(0o755)
    temp.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(db.tempfile, "gettempdir", lambda: str(temp))
    assert db._private_runtime_dir() == runtime
    assert runtime.stat().st_mode & 0o777 == 0o700
    assert list(temp.iterdir()) == []
