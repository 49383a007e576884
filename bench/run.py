"""studio-publish benchmarks: python bench/run.py [--quick] [--only NAME ...]

Benchmarks (see bench/README.md for what each number means):
  throughput  N due posts, platform latency L, concurrency C: wall time and efficiency
  slow-media  cron ticks over media that takes 25 s to process: how late each post goes live
  punctual    issue 10's targets: the 3-call ideal, 10,000 posts in a minute, order, fairness
  overhead    latency 0: posts/s of one and of two run-due processes (sandbox, no-op platform)
  history     idle run-due and status on 1M posted rows vs an empty table, with query plans
  startup     `studio-publish --help` and `status` wall time
  memory      peak RSS of `publish` uploading a 1 GiB video to the TikTok sandbox

Everything runs on this machine: a throwaway PostgreSQL database per benchmark
(studio_publish_bench_<random>, dropped at the end), the platform sandbox in a process of
its own (`studio-publish sandbox --port 0`), and the real `studio-publish` CLI as a
subprocess. Results: a table per benchmark on stdout, JSON in bench/results/latest.json.
"""

from __future__ import annotations

import argparse
import compileall
import contextlib
import datetime as dt
import json
import os
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
sys.path.insert(0, str(ROOT))

from studio_publish.states import Move, guard  # noqa: E402
from studio_publish.store import db as sp_db  # noqa: E402
from studio_publish.store.engine_store import claim_accounts  # noqa: E402
from studio_publish.store.migrations import migrate  # noqa: E402
from studio_publish.store.queries import query  # noqa: E402

PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PYTHON = sys.executable
CLI_SCRIPT = Path(PYTHON).parent / "studio-publish"
CLI = [str(CLI_SCRIPT)] if CLI_SCRIPT.exists() else [PYTHON, "-m", "studio_publish"]
PLATFORMS = ("instagram", "facebook", "tiktok")
TABLES = (
    "studio_publish_alerts, studio_publish_attempts, studio_publish_runs, "
    "studio_social_posts, studio_social_accounts"
)


# --- output ------------------------------------------------------------------------------


def table(title: str, headers: list[str], rows: list[list[Any]]) -> None:
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]
    print(f"\n== {title}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    sys.stdout.flush()


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return "-" if value is None else str(value)


def note(text: str) -> None:
    print(f"  . {text}", flush=True)


# --- processes ---------------------------------------------------------------------------


@dataclass
class Proc:
    """A finished subprocess: wall time, exit code, output, and its own resource usage."""

    wall: float
    rc: int
    stdout: str
    stderr: str
    maxrss_mb: float
    cpu_s: float
    started: float = 0.0
    ended: float = 0.0

    def json(self) -> Any:
        return json.loads(self.stdout)


class Running:
    """A subprocess started with its output in files, reaped with wait4 for its CPU time.

    Peak memory is the process's own VmHWM from /proc, sampled every 5 ms until it exits
    (the last sample is the peak of the exec'd program). Not ru_maxrss: for a child that
    child's figure includes the forked copy of this (bench) process before the exec.
    """

    def __init__(self, cmd: list[str], env: dict[str, str], cwd: Path, timeout: float) -> None:
        self._out = tempfile.TemporaryFile()  # noqa: SIM115 (closed in wait)
        self._err = tempfile.TemporaryFile()  # noqa: SIM115
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(
            cmd, env=env, cwd=cwd, stdout=self._out, stderr=self._err, stdin=subprocess.DEVNULL
        )
        self._timer = threading.Timer(timeout, self._kill)
        self._timer.daemon = True
        self._timer.start()
        self._hwm_kb = 0
        self._done = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        status = Path(f"/proc/{self.popen.pid}/status")
        while not self._done.is_set():
            try:
                text = status.read_text()
            except OSError:
                return
            match = re.search(r"^VmHWM:\s+(\d+) kB", text, re.M)
            if match is None:  # a zombie: it has exited
                return
            self._hwm_kb = int(match.group(1))
            self._done.wait(0.005)

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.popen.pid, signal.SIGKILL)

    def wait(self) -> Proc:
        _, status, usage = os.wait4(self.popen.pid, 0)
        ended = time.perf_counter()
        self._timer.cancel()
        self._done.set()
        self._sampler.join()
        rc = os.waitstatus_to_exitcode(status)
        self.popen.returncode = rc  # reaped here: Popen must not wait again
        outputs = []
        for handle in (self._out, self._err):
            handle.seek(0)
            outputs.append(handle.read().decode("utf-8", "replace"))
            handle.close()
        return Proc(
            wall=ended - self.started,
            rc=rc,
            stdout=outputs[0],
            stderr=outputs[1],
            maxrss_mb=self._hwm_kb / 1024,
            cpu_s=usage.ru_utime + usage.ru_stime,
            started=self.started,
            ended=ended,
        )


def base_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("STUDIO_PUBLISH_") and k not in ("DATABASE_URL", "CRON_SECRET")
    }
    env["PYTHONPATH"] = str(ROOT)
    # An installed copy has its bytecode compiled (pip does it): with this set, every
    # process measured compiled the package's modules from source again (main() compiles
    # them once, first). bench/startup.py does the same.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["STUDIO_PUBLISH_LOG_FORMAT"] = "json"  # what cron gets (stderr is not a terminal)
    env.update(extra)
    return env


def run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float = 280.0) -> Proc:
    return Running(cmd, env, cwd, timeout).wait()


def postgres_cpu() -> float:
    """CPU seconds of the whole PostgreSQL server so far (exited backends via cutime)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm_end = stat.rfind(")")
        if stat[stat.find("(") + 1 : comm_end] != "postgres":
            continue
        fields = stat[comm_end + 2 :].split()
        total += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return total / tick


def pid_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- database ----------------------------------------------------------------------------


@contextlib.contextmanager
def bench_database(label: str) -> Iterator[str]:
    """A fresh, migrated database of our own, dropped afterwards whatever happens."""
    name = f"studio_publish_bench_{label}_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        with connect(url) as conn:
            migrate(conn)
        yield url
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def connect(url: str) -> psycopg.Connection[dict[str, Any]]:
    return psycopg.connect(url, autocommit=True, row_factory=dict_row)


def reset_tables(url: str) -> None:
    with connect(url) as conn:
        conn.execute(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")


@dataclass(frozen=True)
class PostKind:
    """One row of the throughput table: a platform and a post type."""

    label: str
    platform: str
    post_type: str
    media: str  # SQL expression for the media jsonb, may use g (the post number)
    options: str = "'{}'::jsonb"
    account_options: str = "{}"


FB_TEXT = PostKind("facebook text", "facebook", "text", "'[]'::jsonb")
IG_IMAGE = PostKind(
    "instagram image",
    "instagram",
    "image",
    """jsonb_build_array(jsonb_build_object(
        'url', 'https://cdn.example/i/' || g || '.jpg', 'kind', 'image'))""",
)
TT_VIDEO = PostKind(
    "tiktok video (pull)",
    "tiktok",
    "video",
    """jsonb_build_array(jsonb_build_object(
        'url', 'https://cdn.example/v/' || g || '.mp4', 'kind', 'video'))""",
    options="""'{"privacy_level": "PUBLIC_TO_EVERYONE"}'::jsonb""",
    account_options='{"tiktok_pull_from_url": true}',
)
IG_REEL = PostKind(
    "instagram reel",
    "instagram",
    "reel",
    """jsonb_build_array(jsonb_build_object(
        'url', 'https://cdn.example/r/' || g || '.mp4', 'kind', 'video'))""",
)
KINDS = {"facebook": FB_TEXT, "instagram": IG_IMAGE, "tiktok": TT_VIDEO}


def seed(
    url: str,
    kinds: list[PostKind],
    n: int,
    accounts_per_kind: int,
    tag: str,
    *,
    due: str = "now() - interval '2 minutes'",
) -> None:
    """n due posts spread evenly over the kinds, each kind over its own accounts."""
    with connect(url) as conn:
        for index, kind in enumerate(kinds):
            count = n // len(kinds) + (1 if index < n % len(kinds) else 0)
            rows = conn.execute(
                """INSERT INTO studio_social_accounts
                       (platform, platform_account_id, name, access_token, options)
                   SELECT %(platform)s, %(prefix)s || g, 'bench ' || g,
                          'bench-token-' || %(prefix)s || g, %(options)s::jsonb
                   FROM generate_series(1, %(n)s) g RETURNING id""",
                {
                    "platform": kind.platform,
                    "prefix": f"{tag}-{kind.platform}-",
                    "n": accounts_per_kind,
                    "options": kind.account_options,
                },
            ).fetchall()
            ids = [r["id"] for r in rows]
            conn.execute(
                f"""INSERT INTO studio_social_posts
                        (social_account_id, platform, post_type, caption, media, options,
                         status, scheduled_for)
                    SELECT (%(ids)s::uuid[])[1 + mod(g, %(accounts)s)], %(platform)s,
                           %(post_type)s, %(caption)s || g, {kind.media}, {kind.options},
                           'scheduled', {due}
                    FROM generate_series(1, %(n)s) g""",
                {
                    "ids": ids,
                    "accounts": len(ids),
                    "platform": kind.platform,
                    "post_type": kind.post_type,
                    "caption": f"bench {tag} {kind.label} post ",
                    "n": count,
                },
            )
        conn.execute("ANALYZE")


def post_states(url: str) -> dict[str, int]:
    with connect(url) as conn:
        rows = conn.execute(
            "SELECT status, count(*) AS n FROM studio_social_posts GROUP BY status"
        ).fetchall()
    return {r["status"]: r["n"] for r in rows}


# --- the sandbox, in a process of its own ------------------------------------------------


class SandboxProcess:
    """`studio-publish sandbox --port 0`, driven through its control API."""

    def __init__(self, workdir: Path) -> None:
        self.proc = subprocess.Popen(
            [*CLI, "sandbox", "--port", "0"],
            env=base_env(),
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.env: dict[str, str] = {}
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the sandbox did not start")
            if line.startswith("# control API:"):
                self.control = line.split(":", 1)[1].strip().split()[0].rstrip("/")
                break
            name, _, value = line.strip().partition("=")
            self.env[name] = value
        self.http = httpx.Client(timeout=60)

    def reset(self, **knobs: Any) -> None:
        self.http.post(f"{self.control}/reset").raise_for_status()
        if knobs:
            self.http.post(f"{self.control}/knobs", json=knobs).raise_for_status()

    def stats(self) -> dict[str, Any]:
        response = self.http.get(f"{self.control}/stats")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def ledger(self) -> dict[str, Any]:
        response = self.http.get(f"{self.control}/ledger")
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return {"count": data["count"], "duplicate_count": data["duplicate_count"]}

    def cpu(self) -> float:
        return pid_cpu(self.proc.pid)

    def stop(self) -> None:
        self.http.close()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --- benchmark context -------------------------------------------------------------------


@dataclass
class Bench:
    quick: bool
    workdir: Path
    results: dict[str, Any] = field(default_factory=dict)
    verdicts: list[dict[str, Any]] = field(default_factory=list)

    def verdict(self, figure: str, value: str, target: str, ok: bool | None) -> None:
        status = "PASS" if ok else ("MISS" if ok is not None else "info")
        self.verdicts.append({"figure": figure, "value": value, "target": target, "status": status})


def engine_env(url: str, sandbox: SandboxProcess | None, **settings: Any) -> dict[str, str]:
    env = base_env(DATABASE_URL=url)
    if sandbox is not None:
        env.update(sandbox.env)
    for name, value in settings.items():
        env[f"STUDIO_PUBLISH_{name.upper()}"] = str(value)
    return env


@dataclass
class RunResult:
    """One run-due over a seeded queue, checked and measured."""

    n: int
    wall: float
    engine_s: float
    posted: int
    states: dict[str, int]
    calls: int
    calls_by_endpoint: dict[str, int]
    ledger_count: int
    duplicates: int
    cpu_engine_s: float
    cpu_sandbox_s: float
    cpu_postgres_s: float
    maxrss_mb: float
    rc: int
    other_outcomes: dict[str, int]

    @property
    def calls_per_post(self) -> float:
        return self.calls / self.n if self.n else 0.0

    @property
    def ok(self) -> bool:
        return self.posted == self.n and self.duplicates == 0 and self.states == {"posted": self.n}


def run_due_processes(
    url: str,
    sandbox: SandboxProcess | None,
    workdir: Path,
    n: int,
    *,
    processes: int = 1,
    worker: list[str] | None = None,
    **settings: Any,
) -> RunResult:
    """Start ``processes`` run-due processes at once over the seeded queue; measure them."""
    env = engine_env(url, sandbox, **settings)
    cmd = worker or [*CLI, "run-due", "--json"]
    pg_before = postgres_cpu()
    sb_before = sandbox.cpu() if sandbox else 0.0
    running = [Running(cmd, env, workdir, timeout=280) for _ in range(processes)]
    procs = [r.wait() for r in running]
    pg_cpu = postgres_cpu() - pg_before
    sb_cpu = (sandbox.cpu() - sb_before) if sandbox else 0.0
    summaries = []
    for proc in procs:
        try:
            summaries.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        except (ValueError, IndexError):
            raise RuntimeError(f"run-due failed (exit {proc.rc}): {proc.stderr[-2000:]}") from None
    outcomes: dict[str, int] = {}
    for s in summaries:
        for key in ("retried", "failed", "needs_review", "lease_lost"):
            if s.get(key):
                outcomes[key] = outcomes.get(key, 0) + s[key]
    stats = sandbox.stats() if sandbox else {"total_calls": 0, "calls": {}}
    ledger = sandbox.ledger() if sandbox else {"count": 0, "duplicate_count": 0}
    states = post_states(url)
    return RunResult(
        n=n,
        wall=max(p.ended for p in procs) - min(p.started for p in procs),
        engine_s=max(float(s["seconds"]) for s in summaries),
        posted=sum(int(s["posted"]) for s in summaries),
        states=states,
        calls=int(stats["total_calls"]),
        calls_by_endpoint=dict(sorted(stats["calls"].items())),
        ledger_count=int(ledger["count"]),
        duplicates=int(ledger["duplicate_count"]),
        cpu_engine_s=sum(p.cpu_s for p in procs),
        cpu_sandbox_s=sb_cpu,
        cpu_postgres_s=pg_cpu,
        maxrss_mb=max(p.maxrss_mb for p in procs),
        rc=max(p.rc for p in procs),
        other_outcomes=outcomes,
    )


# --- 1. throughput against latency -------------------------------------------------------


def bench_throughput(b: Bench) -> None:
    n = 400 if b.quick else 2000
    accounts = 200
    poll_interval = 1.0
    rows: list[dict[str, Any]] = []
    mix = [FB_TEXT, IG_IMAGE, TT_VIDEO]
    scenarios: list[tuple[str, list[PostKind], int, float, int]] = [
        (k.label, [k], n, 0.2, 64) for k in mix
    ]
    scenarios.append(("mix (1/3 each)", mix, n, 0.2, 64))
    # The sweep: Instagram image (the longest flow), N sized for ~15 s of ideal time.
    for conc in (16, 64):
        for lat in (0.05, 0.2):
            if (conc, lat) == (64, 0.2):
                continue
            sweep_n = max(200, min(n, int(15 * conc / (5 * lat)) // 10 * 10))
            if b.quick:
                sweep_n = min(sweep_n, 400)
            scenarios.append((f"sweep: {IG_IMAGE.label}", [IG_IMAGE], sweep_n, lat, conc))
    with bench_database("tput") as url:
        sandbox = SandboxProcess(b.workdir)
        try:
            for tag_no, (label, kinds, count, latency, conc) in enumerate(scenarios):
                reset_tables(url)
                sandbox.reset(latency=latency, container_polls=0, tiktok_status_polls=0)
                seed(url, kinds, count, accounts, f"t{tag_no}")
                r = run_due_processes(
                    url,
                    sandbox,
                    b.workdir,
                    count,
                    concurrency=conc,
                    poll_interval_seconds=poll_interval,
                    run_budget_seconds=600,
                )
                ideal = count * r.calls_per_post * latency / conc
                row = {
                    "scenario": label,
                    "n": count,
                    "latency_s": latency,
                    "concurrency": conc,
                    "wall_s": round(r.wall, 3),
                    "engine_s": round(r.engine_s, 3),
                    "calls_per_post": round(r.calls_per_post, 3),
                    "ideal_s": round(ideal, 3),
                    "efficiency": round(ideal / r.wall, 3),
                    "efficiency_engine_only": round(ideal / r.engine_s, 3),
                    "posted": r.posted,
                    "all_posted": r.ok,
                    "ledger": r.ledger_count,
                    "duplicates": r.duplicates,
                    "other_outcomes": r.other_outcomes,
                    "calls_by_endpoint": r.calls_by_endpoint,
                    "cpu_engine_s": round(r.cpu_engine_s, 2),
                    "cpu_sandbox_s": round(r.cpu_sandbox_s, 2),
                    "cpu_postgres_s": round(r.cpu_postgres_s, 2),
                    "exit_code": r.rc,
                }
                rows.append(row)
                note(
                    f"{label} N={count} L={latency} C={conc}: {r.wall:.2f}s, eff "
                    f"{row['efficiency']}, calls {r.calls_by_endpoint}"
                )
        finally:
            sandbox.stop()
    table(
        "1. Throughput against latency (run-due CLI vs sandbox; container_polls=0, "
        f"tiktok_status_polls=0, poll interval {poll_interval}s)",
        [
            "scenario",
            "N",
            "L ms",
            "C",
            "calls/post",
            "ideal s",
            "wall s",
            "eff",
            "eff(engine)",
            "posted",
            "dup",
            "cpu eng/sb/pg s",
        ],
        [
            [
                r["scenario"],
                r["n"],
                int(r["latency_s"] * 1000),
                r["concurrency"],
                r["calls_per_post"],
                r["ideal_s"],
                r["wall_s"],
                r["efficiency"],
                r["efficiency_engine_only"],
                f"{r['posted']}/{r['n']}" + ("" if r["all_posted"] else " !"),
                r["duplicates"],
                f"{r['cpu_engine_s']}/{r['cpu_sandbox_s']}/{r['cpu_postgres_s']}",
            ]
            for r in rows
        ],
    )
    table(
        "1b. Platform calls per post, by endpoint (measured at the sandbox)",
        ["scenario", "calls per post by endpoint"],
        [
            [
                r["scenario"]
                + (f" C={r['concurrency']} L={r['latency_s']}" if "sweep" in r["scenario"] else ""),
                ", ".join(f"{k}={v / r['n']:.2f}" for k, v in r["calls_by_endpoint"].items()),
            ]
            for r in rows
        ],
    )
    b.results["throughput"] = {
        "poll_interval_seconds": poll_interval,
        "container_polls": 0,
        "tiktok_status_polls": 0,
        "accounts_per_platform": accounts,
        "rows": rows,
    }
    # Each flow's calls a post, plus its reads once per account per run (the Instagram
    # quota, TikTok's creator_info), spread over the account's posts.
    per_account = accounts / n
    needed = {
        "facebook text": 2.0,
        "instagram image": 3.0 + per_account,
        "tiktok video (pull)": 2.0 + per_account,
    }
    for r in rows:
        if r["scenario"] in needed or r["scenario"].startswith("mix"):
            b.verdict(
                f"throughput eff, {r['scenario']} (N={r['n']}, L=200ms, C=64)",
                f"{r['efficiency']:.3f}",
                ">= 0.85",
                r["efficiency"] >= 0.85 and r["all_posted"] and r["duplicates"] == 0,
            )
        if r["scenario"] in needed:
            b.verdict(
                f"calls/post, {r['scenario']}",
                f"{r['calls_per_post']:.2f}",
                f"<= {needed[r['scenario']]:.2f} (the flow's minimum)",
                r["calls_per_post"] <= needed[r["scenario"]] + 1e-9,
            )


# --- 2. engine overhead ------------------------------------------------------------------


def bench_overhead(b: Bench) -> None:
    n_http = 500 if b.quick else 2000
    n_noop = 1000 if b.quick else 5000
    conc = 64
    accounts = 200
    rows: list[dict[str, Any]] = []
    worker = [PYTHON, str(BENCH / "noop_worker.py")]
    with bench_database("ovh") as url:
        sandbox = SandboxProcess(b.workdir)
        try:
            cases: list[tuple[str, list[PostKind], int, int, bool]] = []
            for kind in (FB_TEXT, IG_IMAGE, TT_VIDEO):
                cases.append((f"sandbox: {kind.label}", [kind], n_http, 1, True))
            cases.append((f"sandbox: {FB_TEXT.label}, 2 processes", [FB_TEXT], n_http, 2, True))
            cases.append((f"sandbox: {IG_IMAGE.label}, 2 processes", [IG_IMAGE], n_http, 2, True))
            cases.append(("no-op platform (mix)", [FB_TEXT, IG_IMAGE, TT_VIDEO], n_noop, 1, False))
            cases.append(
                (
                    "no-op platform (mix), 2 processes",
                    [FB_TEXT, IG_IMAGE, TT_VIDEO],
                    n_noop,
                    2,
                    False,
                )
            )
            for tag_no, (label, kinds, count, procs, use_sandbox) in enumerate(cases):
                reset_tables(url)
                sandbox.reset(latency=0.0, container_polls=0, tiktok_status_polls=0)
                seed(url, kinds, count, accounts, f"o{tag_no}")
                r = run_due_processes(
                    url,
                    sandbox if use_sandbox else None,
                    b.workdir,
                    count,
                    processes=procs,
                    worker=None if use_sandbox else worker,
                    # The engine's pool opens one connection per post in flight (not the
                    # min(8, C+2) it means to): 2 x 64 would pass max_connections=100.
                    concurrency=conc if procs == 1 else conc // 2,
                    poll_interval_seconds=1.0,
                    run_budget_seconds=600,
                )
                row = {
                    "scenario": label,
                    "processes": procs,
                    "concurrency_each": conc if procs == 1 else conc // 2,
                    "n": count,
                    "wall_s": round(r.wall, 3),
                    "engine_s": round(r.engine_s, 3),
                    "posts_per_s": round(count / r.wall, 1),
                    "posts_per_s_engine": round(count / r.engine_s, 1),
                    "calls_per_post": round(r.calls_per_post, 3),
                    "http_calls_per_s": round(r.calls / r.wall, 1),
                    "all_posted": r.ok,
                    "duplicates": r.duplicates,
                    "states": r.states,
                    "cpu_engine_ms_per_post": round(1000 * r.cpu_engine_s / count, 3),
                    "cpu_sandbox_ms_per_post": round(1000 * r.cpu_sandbox_s / count, 3),
                    "cpu_postgres_ms_per_post": round(1000 * r.cpu_postgres_s / count, 3),
                    "maxrss_mb": round(r.maxrss_mb, 1),
                }
                rows.append(row)
                note(f"{label}: {row['posts_per_s']} posts/s, {r.states}")
            one = next(r for r in rows if r["scenario"] == "no-op platform (mix)")
            profile = None
            if one["posts_per_s"] < 300 or not b.quick:
                # Where one process spends its time (no-op platform, in-process cProfile).
                reset_tables(url)
                seed(url, [FB_TEXT, IG_IMAGE, TT_VIDEO], n_noop // 2, accounts, "prof")
                profile = RESULTS / "profile-overhead.txt"
                env = engine_env(url, None, concurrency=conc, run_budget_seconds=600)
                env["BENCH_PROFILE"] = str(profile)
                run(worker, env, b.workdir)
                note(f"cProfile of one no-op run-due: {profile}")
        finally:
            sandbox.stop()
    table(
        f"2. Engine overhead at latency 0 (C={conc}, or {conc // 2} each for 2 processes; "
        "posts/s = N / wall of the process(es))",
        [
            "scenario",
            "N",
            "wall s",
            "posts/s",
            "posts/s (engine)",
            "HTTP calls/s",
            "ok",
            "cpu ms/post eng/sb/pg",
            "RSS MB",
        ],
        [
            [
                r["scenario"],
                r["n"],
                r["wall_s"],
                r["posts_per_s"],
                r["posts_per_s_engine"],
                r["http_calls_per_s"],
                "yes" if r["all_posted"] and not r["duplicates"] else f"NO {r['states']}",
                f"{r['cpu_engine_ms_per_post']}/{r['cpu_sandbox_ms_per_post']}/"
                f"{r['cpu_postgres_ms_per_post']}",
                r["maxrss_mb"],
            ]
            for r in rows
        ],
    )
    b.results["overhead"] = {"concurrency": conc, "rows": rows, "profile": str(profile or "")}
    for r in rows:
        target = r["scenario"] == "no-op platform (mix)"
        b.verdict(
            f"overhead posts/s, {r['scenario']}",
            f"{r['posts_per_s']:.0f}",
            ">= 300 (one process)" if target else "-",
            (r["posts_per_s"] >= 300) if target else None,
        )


# --- 3. history does not slow it ---------------------------------------------------------

ACTIVE_SET = """
INSERT INTO studio_social_posts (social_account_id, platform, post_type, caption, media,
                                 options, status, scheduled_for, failure_reason,
                                 last_publish_error, updated_at)
SELECT a.id, a.platform, 'text', 'active ' || s.status || ' ' || g, '[]'::jsonb, '{}'::jsonb,
       s.status, now() + interval '1 day' + g * interval '1 minute',
       CASE WHEN s.status IN ('failed', 'needs_review') THEN 'platform' END,
       CASE WHEN s.status IN ('failed', 'needs_review') THEN 'boom' END,
       now() - g * interval '1 minute'
FROM (VALUES ('scheduled', 300), ('draft', 20), ('failed', 10), ('needs_review', 5))
         AS s(status, n)
CROSS JOIN LATERAL generate_series(1, s.n) g
JOIN LATERAL (SELECT id, platform FROM studio_social_accounts
              ORDER BY platform_account_id OFFSET mod(g, 30) LIMIT 1) a ON true
"""

HISTORY_POSTS = """
INSERT INTO studio_social_posts (social_account_id, platform, post_type, caption, media,
                                 options, status, scheduled_for, attempt_count, published_at,
                                 posted_at, platform_post_id, permalink, created_at, updated_at)
SELECT (%(ids)s::uuid[])[1 + mod(g, 30)], (%(platforms)s::text[])[1 + mod(g, 30)], 'image',
       'history post ' || g, '[{"url": "https://cdn.example/h.jpg", "kind": "image"}]'::jsonb,
       '{}'::jsonb, 'posted', t, 1, t, t, 'hist-' || g,
       'https://www.instagram.com/p/hist' || g || '/', t, t
FROM (SELECT g, now() - (%(n)s - g) * (interval '365 days' / %(n)s) AS t
      FROM generate_series(1, %(n)s) g) s  -- oldest first, as the rows were written
"""

HISTORY_ATTEMPTS = """
INSERT INTO studio_publish_attempts (post_id, run_id, attempt_number, started_at, finished_at,
                                     outcome, platform_ids)
SELECT id, NULL, 1, published_at - interval '3 seconds', published_at, 'posted',
       jsonb_build_object('platform_post_id', platform_post_id)
FROM studio_social_posts WHERE status = 'posted'
"""

HISTORY_RUNS = """
INSERT INTO studio_publish_runs (started_at, finished_at, host, pid, command, outcome,
                                 claimed, posted)
SELECT now() - g * interval '1 minute', now() - g * interval '1 minute' + interval '2 seconds',
       'cron-host', 1000 + mod(g, 30000), 'run-due', 'ok', 2, 2
FROM generate_series(1, %(n)s) g
"""

PLANNED = [
    ("due_posts_preview", {"max_lateness": 43200, "limit": 500}, False),
    (
        "lock_due_accounts",
        {**guard(Move.CLAIM), "limit": 96, "only_ids": None, "account_concurrency": 1},
        True,
    ),
    (
        # With the accounts lock_due_accounts finds (claim_params adds them), as a run does.
        "claim_due_posts",
        {
            **guard(Move.CLAIM),
            "limit": 96,
            "worker": "bench",
            "lease_seconds": 300,
            "run_id": None,
            "only_ids": None,
            "account_concurrency": 1,
        },
        True,
    ),
    ("mark_missed", {**guard(Move.MISS), "max_lateness": 43200, "only_ids": None}, True),
    ("claim_abandoned", {"limit": 50, "worker": "bench", "lease_seconds": 300}, True),
    ("count_active_by_state", {}, False),
    ("count_posted_recently", {}, False),
    ("next_due", {"limit": 10}, False),
    ("overdue", {"limit": 10, "grace_seconds": 300}, False),
    ("stuck_publishing", {"limit": 10, "grace_seconds": 0}, False),
    ("needs_review", {"limit": 10}, False),
    ("recent_failures", {"limit": 10}, False),
    ("held_posts_by_account", {"account": None}, False),
    ("last_run", {}, False),
]
BIG_TABLES = ("studio_social_posts", "studio_publish_attempts", "studio_publish_runs")


def seed_history(url: str, n_posts: int, n_runs: int) -> dict[str, float]:
    timings: dict[str, float] = {}
    with connect(url) as conn:
        ids_rows = conn.execute(
            """INSERT INTO studio_social_accounts (platform, platform_account_id, name,
                                                  access_token)
               SELECT (ARRAY['instagram', 'facebook', 'tiktok'])[1 + mod(g, 3)],
                      'hist-acct-' || lpad(g::text, 3, '0'), 'history ' || g,
                      'bench-token-history-' || g
               FROM generate_series(0, 29) g RETURNING id, platform"""
        ).fetchall()
        conn.execute(ACTIVE_SET)
        if n_posts:
            params = {
                "ids": [r["id"] for r in ids_rows],
                "platforms": [r["platform"] for r in ids_rows],
                "n": n_posts,
            }
            for name, sql, p in (
                ("posts", HISTORY_POSTS, params),
                ("attempts", HISTORY_ATTEMPTS, {}),
                ("runs", HISTORY_RUNS, {"n": n_runs}),
            ):
                started = time.perf_counter()
                conn.execute(sql, p)
                timings[f"insert_{name}_s"] = round(time.perf_counter() - started, 1)
        # One finished run, as after any cron minute.
        conn.execute("INSERT INTO studio_publish_runs (finished_at, outcome) VALUES (now(), 'ok')")
        started = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        timings["vacuum_analyze_s"] = round(time.perf_counter() - started, 1)
    return timings


def explain_all(url: str) -> tuple[str, list[str]]:
    """EXPLAIN (ANALYZE, BUFFERS) of every query `run-due` and `status` run; writes rolled back."""
    parts: list[str] = []
    seq_scans: list[str] = []
    with connect(url) as conn:
        for name, params, writes in PLANNED:
            sql = query(name)
            with contextlib.suppress(_Rollback), conn.transaction():
                if name == "claim_due_posts":
                    found = conn.execute(query("lock_due_accounts"), params).fetchall()
                    params = {**params, **claim_accounts(found)}
                rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).fetchall()
                if writes:
                    raise _Rollback
            plan = "\n".join(r["QUERY PLAN"] for r in rows)
            parts.append(f"-- {name}  {json.dumps(params)}\n{sql}\n\n{plan}\n")
            for big in BIG_TABLES:
                if f"Seq Scan on {big}" in plan:
                    seq_scans.append(f"{name}: seq scan on {big}")
    return "\n".join(parts), seq_scans


class _Rollback(Exception):
    pass


def median_time(fn: Callable[[], Any], repeat: int) -> tuple[float, list[float]]:
    fn()  # warm-up (connection, caches)
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times


def bench_history(b: Bench) -> None:
    from studio_publish import operations
    from studio_publish.logs import configure_logging
    from studio_publish.reporting import status as report
    from studio_publish.settings import Settings

    configure_logging("json")
    n_posts = 100_000 if b.quick else 1_000_000
    n_runs = 52_560 if b.quick else 525_600  # a year of cron minutes (a tenth with --quick)
    repeat_cli = 5 if b.quick else 10
    repeat_lib = 10 if b.quick else 30
    measured: dict[str, dict[str, Any]] = {}
    with bench_database("hist0") as empty_url, bench_database("hist1") as full_url:
        seeding = {"empty": seed_history(empty_url, 0, 0)}
        note(f"inserting {n_posts} posted rows, as many attempts, {n_runs} runs ...")
        seeding["history"] = seed_history(full_url, n_posts, n_runs)
        note(f"seeded: {seeding['history']}")
        for label, url in (("empty", empty_url), ("history", full_url)):
            plans, seq_scans = explain_all(url)
            plan_file = RESULTS / f"plans-{label}.txt"
            plan_file.write_text(plans)
            env = engine_env(url, None)
            settings = Settings(database_url=url, log_format="json")
            target = sp_db.DatabaseTarget(url, False, "bench")
            conn = sp_db.connect(target)
            try:
                cli_run, _ = median_time(
                    lambda env=env: _ok(run([*CLI, "run-due", "--json"], env, b.workdir)),
                    repeat_cli,
                )
                cli_status, _ = median_time(
                    lambda env=env: _ok(run([*CLI, "status", "--json"], env, b.workdir)),
                    repeat_cli,
                )
                lib_status, _ = median_time(
                    lambda conn=conn: report.overview(conn, database="bench"), repeat_lib
                )
                lib_run, _ = median_time(
                    lambda s=settings, t=target: operations.run_due(s, t), repeat_lib
                )
            finally:
                conn.close()
            with connect(url) as c:
                sizes = c.execute(
                    """SELECT relname, n_live_tup AS rows,
                              pg_size_pretty(pg_total_relation_size(relid)) AS size
                       FROM pg_stat_user_tables WHERE relname = ANY(%s) ORDER BY relname""",
                    [list(BIG_TABLES)],
                ).fetchall()
            measured[label] = {
                "cli_run_due_idle_s": cli_run,
                "cli_status_json_s": cli_status,
                "lib_status_overview_s": lib_status,
                "lib_run_due_idle_s": lib_run,
                "seq_scans": seq_scans,
                "plans": str(plan_file),
                "tables": {r["relname"]: f"{r['rows']} rows, {r['size']}" for r in sizes},
            }
            note(f"{label}: {measured[label]}")
    print("\n== 3a. Query plans on the table with history (also in bench/results/plans-*.txt)")
    print((RESULTS / "plans-history.txt").read_text())
    keys = [
        ("cli_run_due_idle_s", "run-due, idle (CLI process)"),
        ("cli_status_json_s", "status --json (CLI process)"),
        ("lib_run_due_idle_s", "run-due, idle (library: operations.run_due)"),
        ("lib_status_overview_s", "status (library: status.overview)"),
    ]
    rows = []
    for key, label in keys:
        empty, full = measured["empty"][key], measured["history"][key]
        rows.append([label, empty * 1000, full * 1000, f"{(full / empty - 1) * 100:+.1f}%"])
        b.verdict(
            f"history: {label}",
            f"{full * 1000:.1f} ms vs {empty * 1000:.1f} ms ({(full / empty - 1) * 100:+.1f}%)",
            "within +30%",
            full <= empty * 1.3,
        )
    table(
        f"3. History does not slow it: {n_posts} posted rows + {n_posts} attempts + {n_runs} runs"
        f" vs empty (median of {repeat_cli} CLI / {repeat_lib} library runs)",
        ["measure", "empty ms", "history ms", "change"],
        rows,
    )
    scans = measured["history"]["seq_scans"]
    print(f"  seq scans over the big tables in the plans: {scans or 'none'}")
    print(f"  tables: {measured['history']['tables']}")
    b.verdict(
        "history: plans free of seq scans over posts/attempts/runs",
        str(len(scans)),
        "0",
        not scans,
    )
    b.results["history"] = {
        "posted_rows": n_posts,
        "attempt_rows": n_posts,
        "run_rows": n_runs,
        "seeding": seeding,
        "measured": measured,
    }


def _ok(proc: Proc) -> Proc:
    if proc.rc != 0:
        raise RuntimeError(f"command failed ({proc.rc}): {proc.stderr[-2000:]}")
    return proc


# --- 4. start-up -------------------------------------------------------------------------


def importtime(cmd: list[str], env: dict[str, str], cwd: Path, top: int = 14) -> list[list[Any]]:
    """Import time by top-level package (the sum of its modules' own times), -X importtime."""
    proc = run([PYTHON, "-X", "importtime", *cmd], env, cwd)
    by_package: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| \s*(\S+)", line)
        if match:
            name = match.group(3).split(".")[0]
            by_package[name] = by_package.get(name, 0) + int(match.group(1))
    total = sum(by_package.values())
    ranked = sorted(by_package.items(), key=lambda kv: -kv[1])[:top]
    return [["(all imports)", total / 1000]] + [[name, us / 1000] for name, us in ranked]


def bench_startup(b: Bench) -> None:
    repeat = 5 if b.quick else 11
    with bench_database("start") as url:
        with connect(url) as conn:
            conn.execute(
                """INSERT INTO studio_social_accounts (platform, platform_account_id, access_token)
                   VALUES ('facebook', 'page-1', 'bench-token-startup')"""
            )
        env = engine_env(url, None)
        commands = {
            "python -c pass (baseline)": [PYTHON, "-c", "pass"],
            "studio-publish --help": [*CLI, "--help"],
            "studio-publish status": [*CLI, "status"],
            "studio-publish status --json": [*CLI, "status", "--json"],
            "studio-publish run-due (idle)": [*CLI, "run-due"],
        }
        measured: dict[str, Any] = {}
        for label, cmd in commands.items():
            median, times = median_time(lambda cmd=cmd: _ok(run(cmd, env, b.workdir)), repeat)
            rss = run(cmd, env, b.workdir).maxrss_mb
            measured[label] = {
                "median_ms": round(median * 1000, 1),
                "min_ms": round(min(times) * 1000, 1),
                "max_ms": round(max(times) * 1000, 1),
                "maxrss_mb": round(rss, 1),
            }
        module = ["-m", "studio_publish"]
        imports = {
            "--help": importtime([*module, "--help"], env, b.workdir),
            "status": importtime([*module, "status"], env, b.workdir),
        }
    table(
        f"4. Start-up (wall time of the process, median of {repeat})",
        ["command", "median ms", "min ms", "max ms", "peak RSS MB"],
        [
            [k, v["median_ms"], v["min_ms"], v["max_ms"], v["maxrss_mb"]]
            for k, v in measured.items()
        ],
    )
    for label, ranked in imports.items():
        table(
            f"4b. Import time of `studio-publish {label}` by package (-X importtime, self ms)",
            ["package", "ms"],
            ranked,
        )
    helped = measured["studio-publish --help"]["median_ms"]
    b.verdict("start-up: --help", f"{helped:.0f} ms", "< 250 ms", helped < 250)
    b.verdict(
        "start-up: status", f"{measured['studio-publish status']['median_ms']:.0f} ms", "-", None
    )
    b.results["startup"] = {"measured": measured, "imports_ms": imports}


# --- 5. memory ---------------------------------------------------------------------------


def bench_memory(b: Bench) -> None:
    size = (256 if b.quick else 1024) * 1024 * 1024
    rows = []
    with bench_database("mem") as url, tempfile.TemporaryDirectory(dir=b.workdir) as tmp:
        sandbox = SandboxProcess(b.workdir)
        try:
            sandbox.reset(container_polls=0, tiktok_status_polls=0)
            with connect(url) as conn:
                account = conn.execute(
                    """INSERT INTO studio_social_accounts
                           (platform, platform_account_id, name, access_token)
                       VALUES ('tiktok', 'open-bench', 'bench', 'bench-token-memory')
                       RETURNING id"""
                ).fetchone()
                assert account
            for label, bytes_ in (("1 MiB video (baseline)", 1024 * 1024), ("video", size)):
                video = Path(tmp) / f"video-{bytes_}.mp4"
                with video.open("wb") as handle:
                    handle.truncate(bytes_)  # sparse: reads back as zeros, no disk used
                with connect(url) as conn:
                    post = conn.execute(
                        """INSERT INTO studio_social_posts
                               (social_account_id, platform, post_type, caption, media,
                                options, status, scheduled_for)
                           VALUES (%s, 'tiktok', 'video', %s, %s::jsonb, %s::jsonb,
                                   'scheduled', now() + interval '1 day')
                           RETURNING id""",
                        [
                            account["id"],
                            f"memory bench {label}",
                            json.dumps([{"url": str(video), "kind": "video"}]),
                            json.dumps({"privacy_level": "PUBLIC_TO_EVERYONE"}),
                        ],
                    ).fetchone()
                    assert post
                before = sandbox.stats()["calls"].get("tiktok.upload", 0)
                # The video lives in the temporary folder: the one folder media is read from.
                env = engine_env(url, sandbox, poll_interval_seconds=1.0, media_root=tmp)
                proc = run([*CLI, "publish", str(post["id"]), "--json"], env, b.workdir)
                out = proc.json() if proc.stdout.strip() else {}
                chunks = sandbox.stats()["calls"].get("tiktok.upload", 0) - before
                rows.append(
                    {
                        "case": label,
                        "bytes": bytes_,
                        "posted": bool(out.get("posted")),
                        "chunks": chunks,
                        "wall_s": round(proc.wall, 2),
                        "mb_per_s": round(bytes_ / 2**20 / proc.wall, 1),
                        "peak_rss_mb": round(proc.maxrss_mb, 1),
                        "exit_code": proc.rc,
                    }
                )
                note(f"{label}: {rows[-1]}")
            ledger = sandbox.ledger()
        finally:
            sandbox.stop()
    table(
        "5. Memory: `studio-publish publish` of a TikTok FILE_UPLOAD video (sparse local file)",
        ["case", "size MiB", "posted", "chunks", "wall s", "MiB/s", "peak RSS MB"],
        [
            [
                r["case"],
                r["bytes"] // 2**20,
                r["posted"],
                r["chunks"],
                r["wall_s"],
                r["mb_per_s"],
                r["peak_rss_mb"],
            ]
            for r in rows
        ],
    )
    print(f"  sandbox ledger: {ledger}")
    big = rows[-1]
    b.verdict(
        f"memory: peak RSS uploading {big['bytes'] // 2**20} MiB",
        f"{big['peak_rss_mb']:.0f} MB",
        "< 150 MB",
        big["peak_rss_mb"] < 150 and big["posted"],
    )
    b.results["memory"] = {"rows": rows, "ledger": ledger}


# --- main --------------------------------------------------------------------------------

# --- 6. slow media: waiting is not working -----------------------------------------------


def bench_slow_media(b: Bench) -> None:
    """Issue 10's scaled-down minute: cron's `flock -n` tick every 10 s, a run budget of 8 s,
    media that takes 25 s to process, 40 images + 24 reels + 16 TikTok videos due at once
    over 60 accounts, concurrency 16, poll interval 1 s. A tick whose previous run still
    runs is skipped, as flock -n skips it."""
    tick, budget, poll, processing, latency = 10.0, 8.0, 1.0, 25.0, 0.1
    # (kind, posts, accounts): 60 accounts, each video on an account of its own. With the
    # default ACCOUNT_CONCURRENCY of 1 an account's posts go live in order, so an account's
    # second video would start processing only once its first is live.
    plan = [(IG_IMAGE, 40, 20), (IG_REEL, 24, 24), (TT_VIDEO, 16, 16)]
    with bench_database("slow") as url:
        sandbox = SandboxProcess(b.workdir)
        try:
            sandbox.reset(
                latency=latency,
                container_polls=0,
                tiktok_status_polls=0,
                processing_seconds=processing,
            )
            for number, (kind, count, accounts) in enumerate(plan):
                seed(url, [kind], count, accounts, f"s{number}", due="now()")
            env = engine_env(
                url,
                sandbox,
                run_budget_seconds=budget,
                poll_interval_seconds=poll,
                concurrency=16,
            )
            runs: list[Proc] = []
            skipped = 0
            current: threading.Thread | None = None
            started = time.monotonic()
            total = sum(count for _, count, _ in plan)
            while time.monotonic() - started < 150:
                if current is not None and current.is_alive():
                    skipped += 1  # flock -n: the previous run still holds the lock
                else:
                    running = Running([*CLI, "run-due", "--json"], env, b.workdir, timeout=280)
                    current = threading.Thread(target=lambda r=running: runs.append(r.wait()))
                    current.start()
                if post_states(url).get("posted", 0) == total:
                    break
                time.sleep(tick)
            if current is not None:
                current.join()
            with connect(url) as conn:
                late = conn.execute(
                    """SELECT post_type, count(*) FILTER (WHERE status = 'posted') AS posted,
                              count(*) AS n,
                              max(extract(epoch FROM published_at - scheduled_for)) AS latest
                       FROM studio_social_posts GROUP BY post_type ORDER BY post_type"""
                ).fetchall()
            ledger = sandbox.ledger()
        finally:
            sandbox.stop()
    longest = max(r.wall for r in runs)
    by_type = {r["post_type"]: r for r in late}
    images = float(by_type["image"]["latest"] or 0)
    videos = max(float(by_type[t]["latest"] or 0) for t in ("reel", "video"))
    table(
        f"6. Slow media (tick {tick:.0f} s, budget {budget:.0f} s, processing {processing:.0f} "
        f"s, poll {poll:.0f} s, C=16, L={int(latency * 1000)} ms)",
        ["post type", "posted", "latest go-live after due, s"],
        [
            [r["post_type"], f"{r['posted']}/{r['n']}", round(float(r["latest"] or 0), 1)]
            for r in late
        ],
    )
    note(
        f"runs {len(runs)}, ticks skipped {skipped}, longest run {longest:.1f} s, "
        f"ledger {ledger['count']}, duplicates {ledger['duplicate_count']}"
    )
    b.results["slow_media"] = {
        "tick_s": tick,
        "budget_s": budget,
        "processing_s": processing,
        "by_type": [dict(r) for r in late],
        "runs": len(runs),
        "ticks_skipped": skipped,
        "longest_run_s": round(longest, 2),
        "ledger": ledger,
    }
    everything = all(r["posted"] == r["n"] for r in late) and ledger["duplicate_count"] == 0
    b.verdict("slow media: latest image, s late", f"{images:.1f}", "<= 12", images <= 12)
    b.verdict(
        "slow media: latest video, s late",
        f"{videos:.1f}",
        f"<= {processing + 12:.0f} (processing + 12)",
        videos <= processing + 12 and everything,
    )
    b.verdict(
        "slow media: longest run, s",
        f"{longest:.1f}",
        f"<= {budget + 5:.0f}",
        longest <= budget + 5,
    )


# --- 7. punctual: issue 10's throughput, order and fairness targets -----------------------


def _seed_account(conn: psycopg.Connection[dict[str, Any]], tag: str) -> Any:
    row = conn.execute(
        """INSERT INTO studio_social_accounts (platform, platform_account_id, name, access_token)
           VALUES ('instagram', %(id)s, %(id)s, 'bench-token-' || %(id)s) RETURNING id""",
        {"id": f"{tag}-{secrets.token_hex(4)}"},
    ).fetchone()
    assert row is not None
    return row["id"]


def _seed_images(
    conn: psycopg.Connection[dict[str, Any]], account: Any, count: int, first_due: str, step: str
) -> None:
    """``count`` Instagram images for ``account``, due from ``first_due`` every ``step``."""
    conn.execute(
        f"""INSERT INTO studio_social_posts
                (social_account_id, platform, post_type, caption, media, status, scheduled_for)
            SELECT %(account)s, 'instagram', 'image', 'punctual ' || g, {IG_IMAGE.media},
                   'scheduled', {first_due} + (g - 1) * interval '{step}'
            FROM generate_series(1, %(n)s) g""",
        {"account": account, "n": count},
    )


def bench_punctual(b: Bench) -> None:
    """Issue 10's targets: Instagram images against the 3-call ideal, 10,000 posts due in
    one minute over 1,000 accounts with two processes, an account's posts in order, and a
    single post not held back by another account's backlog."""
    with bench_database("punct") as url:
        sandbox = SandboxProcess(b.workdir)
        try:
            _punctual_throughput(b, url, sandbox)
            _punctual_order(b, url, sandbox)
            _punctual_fairness(b, url, sandbox)
            _punctual_ten_thousand(b, url, sandbox)
        finally:
            sandbox.stop()


def _punctual_throughput(b: Bench, url: str, sandbox: SandboxProcess) -> None:
    n, rows = (600 if b.quick else 2000), []
    for latency, target in ((0.2, 0.90), (0.05, 0.85)):
        reset_tables(url)
        sandbox.reset(latency=latency, container_polls=0, tiktok_status_polls=0)
        seed(url, [IG_IMAGE], n, 100, f"p{int(latency * 1000)}")
        r = run_due_processes(
            url,
            sandbox,
            b.workdir,
            n,
            concurrency=64,
            poll_interval_seconds=1.0,
            run_budget_seconds=600,
        )
        ideal = n * 3 * latency / 64
        rows.append(
            [
                int(latency * 1000),
                n,
                r.calls_per_post,
                ideal,
                r.wall,
                r.engine_s,
                ideal / r.wall,
                r.cpu_engine_s,
                r.cpu_sandbox_s,
                r.cpu_postgres_s,
            ]
        )
        rows[-1] = [round(v, 3) if isinstance(v, float) else v for v in rows[-1]]
        b.verdict(
            f"Instagram images N={n}, 100 accounts, L={int(latency * 1000)} ms, C=64: "
            "3-call ideal / wall",
            f"{ideal / r.wall:.3f}",
            f">= {target}",
            ideal / r.wall >= target and r.ok,
        )
        b.results.setdefault("punctual", {}).setdefault("throughput", []).append(
            {
                "latency_s": latency,
                "n": n,
                "wall_s": r.wall,
                "ideal_s": ideal,
                "engine_s": r.engine_s,
                "cpu_s": r.cpu_engine_s,
                "cpu_sandbox_s": r.cpu_sandbox_s,
                "cpu_postgres_s": r.cpu_postgres_s,
                "calls": r.calls_by_endpoint,
                "ok": r.ok,
            }
        )
    table(
        "7a. Instagram images over 100 accounts, C=64, one run-due (3-call ideal)",
        [
            "L ms",
            "N",
            "calls/post",
            "ideal s",
            "wall s",
            "engine s",
            "ideal/wall",
            "CPU eng s",
            "CPU sb s",
            "CPU pg s",
        ],
        rows,
    )


def _punctual_order(b: Bench, url: str, sandbox: SandboxProcess) -> None:
    in_order = 0
    runs = 5
    for number in range(runs):
        reset_tables(url)
        sandbox.reset(latency=0.05, container_polls=0, tiktok_status_polls=0)
        with connect(url) as conn:
            account = _seed_account(conn, f"order{number}")
            _seed_images(conn, account, 5, "now() - interval '10 minutes'", "1 minute")
        run_due_processes(url, sandbox, b.workdir, 5, concurrency=16, poll_interval_seconds=1.0)
        with connect(url) as conn:
            order = conn.execute(
                "SELECT published_at FROM studio_social_posts ORDER BY scheduled_for"
            ).fetchall()
        times = [r["published_at"] for r in order]
        in_order += all(t is not None for t in times) and times == sorted(times)
    b.verdict(
        "one account, 5 overdue posts a minute apart: runs that published them in order",
        f"{in_order}/{runs}",
        f"{runs}/{runs}",
        in_order == runs,
    )


def _punctual_fairness(b: Bench, url: str, sandbox: SandboxProcess) -> None:
    reset_tables(url)
    sandbox.reset(latency=0.2, container_polls=0, tiktok_status_polls=0)
    with connect(url) as conn:
        backlog, single = _seed_account(conn, "backlog"), _seed_account(conn, "single")
        _seed_images(conn, backlog, 500, "now() - interval '20 minutes'", "1 second")
        _seed_images(conn, single, 1, "now() - interval '1 minute'", "1 second")
    run_due_processes(
        url,
        sandbox,
        b.workdir,
        501,
        concurrency=64,
        account_concurrency=64,
        poll_interval_seconds=1.0,
        run_budget_seconds=8,
    )
    after = _seconds(
        url,
        """SELECT extract(epoch FROM p.published_at - r.started_at)
           FROM studio_social_posts p, studio_publish_runs r
           WHERE p.social_account_id = %(single)s""",
        {"single": single},
    )
    b.results.setdefault("punctual", {})["fairness_single_after_s"] = after
    b.verdict(
        "500 due on one account, 1 on another, L=200 ms, C=ACCOUNT_CONCURRENCY=64: "
        "the single post live after the run's start, s",
        f"{after:.2f}",
        "<= 2",
        after <= 2,
    )


def _seconds(url: str, sql: str, params: dict[str, Any] | None = None) -> float:
    """The one number ``sql`` selects, in seconds; infinity when it is NULL (never live)."""
    with connect(url) as conn:
        row = conn.execute(sql, params or {}).fetchone()
    value = next(iter(row.values()), None) if row else None
    return float(value) if value is not None else float("inf")


def _punctual_ten_thousand(b: Bench, url: str, sandbox: SandboxProcess) -> None:
    n = 3000 if b.quick else 10000
    reset_tables(url)
    sandbox.reset(latency=0.2, container_polls=0, tiktok_status_polls=0)
    seed(url, [FB_TEXT, IG_IMAGE, TT_VIDEO], n, 334, "ten", due="now() - interval '30 seconds'")
    r = run_due_processes(
        url,
        sandbox,
        b.workdir,
        n,
        processes=2,
        concurrency=64,
        poll_interval_seconds=1.0,
        run_budget_seconds=600,
    )
    late = _seconds(
        url, "SELECT max(extract(epoch FROM published_at - scheduled_for)) FROM studio_social_posts"
    )
    b.results.setdefault("punctual", {})["ten_thousand"] = {
        "n": n,
        "wall_s": r.wall,
        "latest_s": late,
        "duplicates": r.duplicates,
        "ok": r.ok,
        "cpu_s": r.cpu_engine_s,
        "calls": r.calls_by_endpoint,
    }
    note(f"{n} mixed over 1,002 accounts, 2 processes: wall {r.wall:.1f} s, last live {late:.1f} s")
    b.verdict(
        f"{n} posts due in one minute over 1,002 accounts, mixed, L=200 ms, two run-due "
        "(C=64 each): all live within, s",
        f"{r.wall:.1f} (dup {r.duplicates})",
        "<= 60, 0 duplicates",
        r.wall <= 60 and r.ok,
    )


BENCHMARKS: dict[str, Callable[[Bench], None]] = {
    "throughput": bench_throughput,
    "slow-media": bench_slow_media,
    "punctual": bench_punctual,
    "overhead": bench_overhead,
    "history": bench_history,
    "startup": bench_startup,
    "memory": bench_memory,
}


def compile_package() -> None:
    """The package's bytecode, as pip leaves an installed copy: __pycache__/ next to the
    sources (git-ignored), so that no measured process compiles a module from source."""
    compileall.compile_dir(ROOT / "studio_publish", quiet=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller N, fewer repeats")
    parser.add_argument(
        "--only", action="append", choices=sorted(BENCHMARKS), help="run only this (repeatable)"
    )
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    chosen = args.only or list(BENCHMARKS)
    compile_package()
    with tempfile.TemporaryDirectory(prefix="studio-publish-bench-") as workdir:
        b = Bench(quick=args.quick, workdir=Path(workdir))
        started = time.perf_counter()
        failures = {}
        for name in chosen:
            note(f"benchmark {name} ...")
            t0 = time.perf_counter()
            try:
                BENCHMARKS[name](b)
            except Exception as exc:  # report and carry on with the next benchmark
                failures[name] = f"{type(exc).__name__}: {exc}"
                print(f"!! {name} failed: {failures[name]}", file=sys.stderr)
            note(f"{name} took {time.perf_counter() - t0:.0f}s")
    table(
        "Summary",
        ["figure", "value", "target", "status"],
        [[v["figure"], v["value"], v["target"], v["status"]] for v in b.verdicts],
    )
    document = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "seconds": round(time.perf_counter() - started, 1),
        "summary": b.verdicts,
        "failures": failures,
        **b.results,
    }
    out = RESULTS / "latest.json"
    out.write_text(json.dumps(document, indent=2, default=str))
    print(f"\nresults: {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
