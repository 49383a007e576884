"""The cron hook: one `run-due` per authorised HTTP request, for Vercel Cron and the like.

Vercel's Python runtime serves the ``BaseHTTPRequestHandler`` subclass named ``handler`` in a
file under ``api/`` (see examples/vercel/); any other server can mount ``handler`` too, or call
``respond`` from its own framework. GET (what Vercel Cron sends) and POST both run.

Only a request carrying ``Authorization: Bearer $CRON_SECRET`` runs anything; the comparison
takes constant time. Without CRON_SECRET every request is refused. The secret is never
echoed, and the request log holds the method, the path without its query, and the status.

A serverless function is killed at its time limit, so the run is fitted into
``STUDIO_PUBLISH_HOOK_TIME_LIMIT_SECONDS``: half of it for claiming posts, half for waiting
on a post the platform is still processing (a post still processing then waits for a later
run). A post cut off anyway is safe: its lease runs out and a later run settles it.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any

from studio_publish import db, operations
from studio_publish.errors import ConfigError, DatabaseUnavailable, NotMigrated, StudioPublishError
from studio_publish.logs import configure_logging, get_logger
from studio_publish.output import to_json
from studio_publish.platforms.base import Platform
from studio_publish.settings import Settings, load_settings

HookResponse = tuple[int, dict[str, Any]]


def respond(
    authorization: str | None, *, platforms: Mapping[str, Platform] | None = None
) -> HookResponse:
    """The status and JSON body for one request with this Authorization header."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        configure_logging()
        get_logger().error("hook_misconfigured", error=str(exc))
        # The caller may not be authorised: the detail goes to the log only.
        return 500, {"error": "the hook is misconfigured; see the function's logs"}
    configure_logging(settings.log_format)
    if settings.cron_secret is None:
        get_logger().error("hook_without_secret")
        return 500, {"error": "CRON_SECRET is not set: the hook refuses every request until it is"}
    expected = b"Bearer " + settings.cron_secret.get_secret_value().encode()
    given = (authorization or "").encode("utf-8", "replace")
    if not hmac.compare_digest(expected, given):
        get_logger().warning("hook_unauthorised", had_header=authorization is not None)
        return 401, {"error": "unauthorised: send Authorization: Bearer $CRON_SECRET"}
    try:
        target = db.resolve_target(settings)
        with db.connect(target) as conn:
            db.require_migrated(conn)  # the hook never migrates: `db migrate` does
        summary = operations.run_due(hook_settings(settings), target, platforms=platforms)
    except (DatabaseUnavailable, NotMigrated) as exc:
        return 503, {"error": str(exc)}
    except StudioPublishError as exc:
        return 500, {"error": str(exc)}
    except Exception:  # an answer is owed even for a bug: http.server would send none
        get_logger().exception("hook_failed")
        return 500, {"error": "the run failed unexpectedly; see the function's logs"}
    return 200, summary.as_dict()


def hook_settings(settings: Settings) -> Settings:
    """The settings of a run that fits in the hook's time limit (see the module doc)."""
    half = settings.hook_time_limit_seconds / 2
    return settings.model_copy(
        update={
            "run_budget_seconds": min(settings.run_budget_seconds, half),
            "poll_timeout_seconds": min(settings.poll_timeout_seconds, half),
        }
    )


def make_handler(
    platforms: Mapping[str, Platform] | None = None,
) -> type[BaseHTTPRequestHandler]:
    """A handler class; ``platforms`` replaces the real platform clients (for tests)."""

    class CronHookHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._run()

        def do_POST(self) -> None:
            self._run()

        def _run(self) -> None:
            status, body = respond(self.headers.get("Authorization"), platforms=platforms)
            data = to_json(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            if status == 401:
                self.send_header("WWW-Authenticate", 'Bearer realm="studio-publish"')
            self.end_headers()
            self.wfile.write(data)

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            path = self.path.split("?", 1)[0]
            get_logger().info("hook_request", method=self.command, path=path, status=code)

        def log_message(self, format: str, *args: Any) -> None:
            # http.server's own errors (a malformed request): to our log, not raw stderr.
            get_logger().warning("hook_http_error", detail=format % args)

    return CronHookHandler


# What Vercel's runtime (or any server) serves: one run-due per authorised request.
handler = make_handler()
