"""Start-up against its floor: python bench/startup.py [-n 7] [--strict] [--compare LABEL=DIR]

Each CLI command is timed as a fresh process against a baseline, a bare `python -c` that
imports only the libraries the command cannot do without:

  studio-publish --help        vs  python -c "import typer, rich"                target <= 1.2
  studio-publish schedule --help vs the same                                      (reported)
  studio-publish status        vs  python -c "import psycopg, httpx, ..."        target <= 1.2
                                   (the issue's floor, with '.[bench]' installed; and,
                                   reported, "import psycopg, httpx" alone)
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

# The baselines: a bare interpreter importing what a command cannot do without.
FLOORS = {
    "A": "import typer, rich",  # what renders the help
    # The floor for the commands that read settings, the database and the platforms:
    # the libraries that did it then. The project has since dropped two of them (logs.py and
    # settings.py are its own): `pip install -c constraints.txt '.[bench]'` installs them for
    # this baseline alone.
    "B": "import psycopg, httpx, pydantic_settings, structlog",
    # What those commands import of others' now: a lower floor, reported beside.
    "C": "import psycopg, httpx",
}
# The CLI turns the garbage collector off while it starts (cli/app.py, started()), which
# speeds up its imports of these same libraries too. Each baseline also runs that way, as
# "A0" and "B0", to show how much of a ratio that accounts for (the "GC-off ratio" column).
NO_GC = "import gc; gc.disable(); "
# (label, CLI arguments, its baseline, the target ratio or None to report only)
COMMANDS: list[tuple[str, list[str], str, float | None]] = [
    ("--help", ["--help"], "A", TARGET),
    ("schedule --help", ["schedule", "--help"], "A", None),  # a command's own help
    ("status", ["status"], "B", TARGET),
    ("status --check", ["status", "--check"], "B", None),
    ("run-due (idle)", ["run-due"], "B", TARGET),
]


@dataclass
class Timed:
    """One command line, run once per round: its wall and CPU times in seconds."""

    argv: list[str]
    env: dict[str, str]
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def run(self, cwd: Path) -> None:
        with tempfile.TemporaryFile() as stderr:  # unlinked at once: nothing left in /tmp
            started = time.perf_counter()
            child = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
            _, status, usage = os.wait4(child.pid, 0)
            elapsed = time.perf_counter() - started
            child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
            if child.returncode != 0:  # a failing command is fast: its time means nothing
                stderr.seek(0)
                tail = stderr.read().decode("utf-8", "replace")[-2000:]
                raise RuntimeError(f"{' '.join(self.argv)} exited {child.returncode}:\n{tail}")
        self.times.append(elapsed)
        self.cpu.append(usage.ru_utime + usage.ru_stime)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1000

    @property
    def cpu_ms(self) -> float:
        return statistics.median(self.cpu) * 1000


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
        key + suffix: Timed([PYTHON, "-c", prefix + imports], environment(url))
        for key, imports in FLOORS.items()
        for suffix, prefix in (("", ""), ("0", NO_GC))
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
    headers = ["command", "wall ms", "vs", "ratio", "target", "status", "CPU ms", "CPU ratio"]
    headers.append("GC-off ratio")
    rows = []
    for name, floor in floors.items():
        rows.append([f"baseline {name}", f"{floor.median_ms:.0f}", "", "", "", ""])
        rows[-1] += [f"{floor.cpu_ms:.0f}", "", ""]
    met = True
    for tree in ["", *(label for label, _ in compare)]:
        for label, _, key, target in COMMANDS:
            timed, floor = commands[(tree, label)], floors[key]
            ratio = timed.median_ms / floor.median_ms
            if target is None:
                status = "info"
            elif ratio <= target:
                status = "PASS"
            else:
                status = "MISS"
                met = met and tree != ""  # only this tree's figures have a target
            if key == "B" and not tree:  # the same run against the lower floor, reported
                rows.append(
                    [
                        f"{label} (vs C)",
                        f"{timed.median_ms:.0f}",
                        "C",
                        f"{timed.median_ms / floors['C'].median_ms:.2f}x",
                        "-",
                        "info",
                        f"{timed.cpu_ms:.0f}",
                        f"{timed.cpu_ms / floors['C'].cpu_ms:.2f}x",
                        f"{timed.median_ms / floors['C0'].median_ms:.2f}x",
                    ]
                )
            rows.append(
                [
                    f"[{tree}] {label}" if tree else label,
                    f"{timed.median_ms:.0f}",
                    key,
                    f"{ratio:.2f}x",
                    f"<= {target}x" if target else "-",
                    status,
                    f"{timed.cpu_ms:.0f}",
                    f"{timed.cpu_ms / floor.cpu_ms:.2f}x",
                    f"{timed.median_ms / floors[key + '0'].median_ms:.2f}x",
                ]
            )
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print(f"\n== Start-up: a fresh process each, median of {rounds} rounds in this run")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    print()
    for key, imports in FLOORS.items():
        print(f"baseline {key}: python -c '{imports}'; {key}0: the same after '{NO_GC.strip()}'")
    print(
        "ratio = wall ms / the baseline's wall ms (the target). CPU = user + system time of"
        " the process,\nwhich a busy machine inflates less than wall time (an idle run-due"
        " also waits for PostgreSQL).\nGC-off ratio = wall ms / the baseline's wall ms with"
        " the garbage collector off, as the CLI starts."
    )
    print(f"{sys.version.split()[0]} on {os.cpu_count()} CPUs; CLI: {' '.join(CLI)}")
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
    missing = subprocess.run([PYTHON, "-c", FLOORS["B"]], capture_output=True).returncode
    if missing:
        parser.error(
            "baseline B imports pydantic_settings and structlog, which the project no longer "
            "uses: pip install -c constraints.txt '.[bench]'"
        )
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
