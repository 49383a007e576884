"""Run `run-due` in a process of its own with the fake platform (for crash and overlap tests).

Usage: python tests/support/fake_run.py   (configured by environment variables)
  DATABASE_URL    the test database
  FAKE_LEDGER     the shared ledger file
  FAKE_CRASH      die_after_claim | die_after_save | die_after_accept (the process SIGKILLs itself)
  FAKE_DELAY      seconds each publish takes
  FAKE_CONCURRENCY, FAKE_LEASE_SECONDS
Prints the run summary as JSON.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))  # tests/, for `support`

from studio_publish import operations
from studio_publish.errors import StudioPublishError
from studio_publish.platforms.base import ReconcileStatus
from support.engine import engine_settings, target
from support.fakes import FakePlatform

fake = FakePlatform(
    "instagram",
    Path(os.environ["FAKE_LEDGER"]),
    delay=float(os.environ.get("FAKE_DELAY", "0")),
    crash=os.environ.get("FAKE_CRASH") or None,
)
if os.environ.get("FAKE_RECONCILE") == "unknown":
    fake.reconcile_override = ReconcileStatus.UNKNOWN
settings = engine_settings(
    concurrency=int(os.environ.get("FAKE_CONCURRENCY", "8")),
    lease_seconds=int(os.environ.get("FAKE_LEASE_SECONDS", "60")),
    max_attempts=5,
)
try:
    summary = operations.run_due(
        settings, target(os.environ["DATABASE_URL"]), platforms={"instagram": fake}
    )
except StudioPublishError as exc:
    print(json.dumps({"error": str(exc)}))
    sys.exit(exc.exit_code)
print(json.dumps(summary.as_dict(), default=str))
sys.exit(1 if summary.failed else 0)
