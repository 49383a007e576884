"""Start-up against its floor: python bench/startup.py [-n 7] [--strict] [--compare LABEL=DIR]

Each CLI command is timed as a fresh process against a baseline, a bare `python -c` that
imports only the libraries the command cannot do without:

  studio-publish --help        vs  python -c "import typer, rich"                target <= 1.2
  studio-publish status        vs  python -c "import psycopg, httpx, ..."        target <= 1.2
  studio-publish status --check vs the same                                       (reported)
  studio-publish run-due (idle) vs the same                                       target <= 1.2

The machine's speed drifts 2-3x from day to day, so only a ratio measured within one run
means anything. Every round runs each command and each baseline once, round-robin (each round
starting one further along), so that drift reaches them all alike. The figure is the median
of N rounds.

It needs a PostgreSQL server (--database-url, else DATABASE_URL, else
postgresql://postgres@127.0.0.1:5432/postgres). On it, it creates a database of its own,
bench_startup_<random>, migrates it with `studio-publish db migrate`, and drops it at the end
even if the benchmark fails. The processes run in a temporary folder (no .env read), which
is removed too. They run without PYTHONDONTWRITEBYTECODE, so the warm-up round leaves the
bytecode caches an installed copy has (`__pycache__/`, git-ignored) next to the sources.

--compare LABEL=DIR times the same commands a second time with DIR (another checkout of the
project, e.g. a `git worktree` of an older commit) first on PYTHONPATH, in the same rounds:
a before/after within one run. Exit status: 0, unless --strict and a target is missed.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import conninfo

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CLI_SCRIPT = Path(PYTHON).parent / "studio-publish"
CLI = [str(CLI_SCRIPT)] if CLI_SCRIPT.exists() else [PYTHON, "-m", "studio_publish"]
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
TARGET = 1.2

HELP_FLOOR = "import typer, rich"
DATA_FLOOR = "import psycopg, httpx, pydantic_settings, structlog"
# (label, CLI arguments, the baseline's imports, the target ratio or None to report only)
COMMANDS: list[tuple[str, list[str], str, float | None]] = [
    ("--help", ["--help"], HELP_FLOOR, TARGET),
    ("status", ["status"], DATA_FLOOR, TARGET),
    ("status --check", ["status", "--check"], DATA_FLOOR, None),
    ("run-due (idle)", ["run-due"], DATA_FLOOR, TARGET),
]


@dataclass
class Timed:
    """One command line, run once per round; its wall times in seconds."""

    argv: list[str]
    env: dict[str, str]
    times: list[float] = field(default_factory=list)

    def run(self, cwd: Path) -> None:
        started = time.perf_counter()
        done = subprocess.run(
            self.argv,
            env=self.env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if done.returncode != 0:  # a failing command is fast: its time would mean nothing
            stderr = done.stderr.decode("utf-8", "replace")[-2000:]
            raise RuntimeError(f"{' '.join(self.argv)} exited {done.returncode}:\n{stderr}")
        self.times.append(elapsed)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1000


def environment(url: str, pythonpath: str | None = None) -> dict[str, str]:
    """The caller's environment without our settings, plus the throwaway database."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STUDIO_PUBLISH_") and k not in ("DATABASE_URL", "CRON_SECRET")
    }
    env.pop("PYTHONPATH", None)
    # An installed copy has its bytecode compiled (pip does it); without a cache each start
    # would compile the whole package from source, and that is not what cron pays.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    env["DATABASE_URL"] = url
    env["STUDIO_PUBLISH_LOG_FORMAT"] = "json"  # what cron gets (stderr is not a terminal)
    return env


def create_database(server_url: str) -> tuple[str, str]:
    name = f"bench_startup_{secrets.token_hex(4)}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name, conninfo.make_conninfo(server_url, dbname=name)


def drop_database(server_url: str, name: str) -> None:
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def prepare(url: str, env: dict[str, str], cwd: Path) -> None:
    """Migrate with the CLI, then add one account, so `status` has something to show."""
    subprocess.run([*CLI, "db", "migrate"], env=env, cwd=cwd, check=True, capture_output=True)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """INSERT INTO studio_social_accounts (platform, platform_account_id, access_token)
               VALUES ('facebook', 'page-1', 'bench-token-startup')"""
        )


def measure(
    url: str, rounds: int, compare: list[tuple[str, str]], cwd: Path
) -> tuple[dict[str, Timed], dict[tuple[str, str], Timed]]:
    floors = {
        imports: Timed([PYTHON, "-c", imports], environment(url))
        for imports in (HELP_FLOOR, DATA_FLOOR)
    }
    trees = [("", None), *compare]
    commands = {
        (tree, label): Timed([*CLI, *args], environment(url, path))
        for tree, path in trees
        for label, args, _, _ in COMMANDS
    }
    everything = [*floors.values(), *commands.values()]
    for timed in everything:  # a warm-up round, not counted: .pyc files, page cache
        timed.run(cwd)
        timed.times.clear()
    for round_no in range(rounds):
        shift = round_no % len(everything)
        for timed in everything[shift:] + everything[:shift]:
            timed.run(cwd)
        print(f"  . round {round_no + 1}/{rounds}", file=sys.stderr, flush=True)
    return floors, commands


def report(
    floors: dict[str, Timed],
    commands: dict[tuple[str, str], Timed],
    compare: list[tuple[str, str]],
    rounds: int,
) -> bool:
    """Print the table; True when every target is met (by this tree, not the compared ones)."""
    headers = ["command", "ms", "baseline", "baseline ms", "ratio", "target", "status"]
    rows = []
    met = True
    for tree in ["", *(label for label, _ in compare)]:
        for label, _, imports, target in COMMANDS:
            timed, floor = commands[(tree, label)], floors[imports]
            ratio = timed.median_ms / floor.median_ms
            if target is None:
                status = "info"
            elif ratio <= target:
                status = "PASS"
            else:
                status = "MISS"
                met = met and tree != ""  # only this tree's figures have a target
            rows.append(
                [
                    f"[{tree}] {label}" if tree else label,
                    f"{timed.median_ms:.0f}",
                    f'python -c "{imports}"',
                    f"{floor.median_ms:.0f}",
                    f"{ratio:.2f}x",
                    f"<= {target}x" if target else "-",
                    status,
                ]
            )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print(f"\n== Start-up: wall time of a fresh process, median of {rounds}, same run")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(f"\n{sys.version.split()[0]} on {os.cpu_count()} CPUs; CLI: {' '.join(CLI)}")
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--rounds", type=int, default=7, help="rounds (default 7)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or DEFAULT_URL,
        help="the PostgreSQL server to create the throwaway database on",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="LABEL=DIR",
        help="also time another checkout, DIR first on PYTHONPATH (repeatable)",
    )
    args = parser.parse_args()
    compare = []
    for given in args.compare:
        label, _, path = given.partition("=")
        if not label or not (Path(path) / "studio_publish" / "__init__.py").is_file():
            parser.error(f"--compare {given}: want LABEL=DIR with DIR/studio_publish in it")
        compare.append((label, str(Path(path).resolve())))
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    name, url = create_database(args.database_url)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-startup-") as workdir:
            prepare(url, environment(url), Path(workdir))
            floors, commands = measure(url, args.rounds, compare, Path(workdir))
    finally:
        drop_database(args.database_url, name)
    met = report(floors, commands, compare, args.rounds)
    return 1 if args.strict and not met else 0


if __name__ == "__main__":
    sys.exit(main())
