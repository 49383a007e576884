"""Settings from the environment (or a .env file in the working directory), validated at start."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from studio_publish.errors import ConfigError

if TYPE_CHECKING:
    from studio_publish.media_policy import MediaPolicy


# The settings naming where a platform's API is: checked as http(s) URLs, shown by `status`
# when they are not the real APIs' addresses.
API_BASES = (
    "graph_api_base",
    "tiktok_api_base",
    "threads_api_base",
    "instagram_api_base",
    "facebook_upload_base",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STUDIO_PUBLISH_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        frozen=True,
    )

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "STUDIO_PUBLISH_DATABASE_URL"),
    )
    graph_api_base: str = "https://graph.facebook.com/v25.0"
    tiktok_api_base: str = "https://open.tiktokapis.com"
    threads_api_base: str = "https://graph.threads.net/v1.0"
    # The Instagram API with Instagram Login: Instagram accounts added with --login instagram
    # (https://developers.facebook.com/docs/instagram-platform/reference names both hosts).
    instagram_api_base: str = "https://graph.instagram.com/v25.0"
    # Where a Facebook reel's video is uploaded (by its URL): the Reels Publishing API's
    # rupload host, https://developers.facebook.com/docs/video-api/guides/reels-publishing
    facebook_upload_base: str = "https://rupload.facebook.com"
    tiktok_client_key: str | None = None
    tiktok_client_secret: SecretStr | None = None  # SecretStr: never shown by repr()
    concurrency: int = Field(default=16, ge=1, le=1024)
    # Posts of one account in flight at once, across every run and host; with 1, an
    # account's posts go live in scheduled_for order (claim_due_posts enforces it).
    account_concurrency: int = Field(default=1, ge=1, le=1024)
    run_budget_seconds: float = Field(default=50, gt=0)
    lease_seconds: int = Field(default=300, ge=10)
    max_attempts: int = Field(default=5, ge=1, le=100)
    retry_base_seconds: float = Field(default=60, gt=0)
    retry_max_seconds: float = Field(default=3600, gt=0)
    poll_interval_seconds: float = Field(default=5, gt=0)
    poll_timeout_seconds: float = Field(default=300, gt=0)
    max_lateness_seconds: int = Field(default=43200, gt=0)
    # How far ahead run-due checks scheduled posts for what would make them fail (0: never).
    preflight_hours: float = Field(default=24, ge=0, le=24 * 30)
    http_timeout_seconds: float = Field(default=30, gt=0)
    log_format: Literal["auto", "json", "console"] = "auto"
    alert_webhook_url: str | None = None
    # One webhook call may take this long; alerts never hold up a run for longer.
    alert_timeout_seconds: float = Field(default=5, gt=0, le=30)
    # The cron hook (studio_publish.hook): the shared secret Vercel sends as a bearer
    # token, and how long one request may work (keep it below the function's maxDuration).
    cron_secret: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("CRON_SECRET", "STUDIO_PUBLISH_CRON_SECRET")
    )
    hook_time_limit_seconds: float = Field(default=50, gt=0, le=900)
    # Where the embedded PostgreSQL keeps its data when DATABASE_URL is unset.
    data_dir: str | None = None
    # Where media may come from (media_policy.py): the one folder local files are read
    # from (unset: none are), and the non-public hosts media URLs may name.
    media_root: str | None = None
    media_allow_hosts: str = ""

    @field_validator("media_root")
    @classmethod
    def _media_root(cls, value: str | None) -> str | None:
        _media_policy(value or None, "")  # a ValueError names what is wrong
        return value or None

    @field_validator("media_allow_hosts")
    @classmethod
    def _media_allow_hosts(cls, value: str) -> str:
        _media_policy(None, value)
        return value

    def media_policy(self) -> MediaPolicy:
        """Where media may come from; parsed once per process for these settings."""
        return _media_policy(self.media_root, self.media_allow_hosts)

    @field_validator(*API_BASES)
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _check_http_url(value).rstrip("/")

    def changed_api_bases(self) -> dict[str, str]:
        """The platform hosts set to other than the real APIs, by environment variable: what
        `status` shows, so that a sandbox left configured (or forgotten) is plain to see."""
        return {
            f"STUDIO_PUBLISH_{name.upper()}": _without_credentials(getattr(self, name))
            for name in API_BASES
            if getattr(self, name) != type(self).model_fields[name].default
        }

    @field_validator("alert_webhook_url")
    @classmethod
    def _optional_http_url(cls, value: str | None) -> str | None:
        return _check_http_url(value) if value else None

    @field_validator("tiktok_client_key", "data_dir")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value or None

    @field_validator("database_url")
    @classmethod
    def _libpq_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        from studio_publish.store.db import url_problem

        # libpq's own message quotes the URL, password included: url_problem() leaves out
        # what it quotes, and anything that may be the password.
        problem = url_problem(value)
        if problem is not None:
            raise ValueError(
                f"cannot be parsed as a libpq URL (postgresql://...) or key=value string: {problem}"
            )
        return value

    @field_validator(
        "run_budget_seconds",
        "retry_base_seconds",
        "retry_max_seconds",
        "poll_interval_seconds",
        "poll_timeout_seconds",
        "http_timeout_seconds",
        "preflight_hours",
    )
    @classmethod
    def _finite(cls, value: float) -> float:
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("must be a finite number")
        return value

    @field_validator("cron_secret", "tiktok_client_secret")
    @classmethod
    def _blank_secret_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        return value if value and value.get_secret_value() else None


@lru_cache(maxsize=8)
def _media_policy(root: str | None, allow_hosts: str) -> MediaPolicy:
    from studio_publish.media_policy import MediaPolicy

    return MediaPolicy.parse(root, allow_hosts)


def _without_credentials(url: str) -> str:
    """``url`` as it may be shown: any ``user:password@`` in it left out."""
    parts = urlsplit(url)
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def _check_http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL")
    return value


class _LogFormatOnly(BaseSettings):
    """Just STUDIO_PUBLISH_LOG_FORMAT, read from where Settings reads it: enough to report
    a command's failure in the logs' format when the other settings are what failed."""

    model_config = SettingsConfigDict(
        env_prefix="STUDIO_PUBLISH_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )
    log_format: Literal["auto", "json", "console"] = "auto"


def log_format_alone() -> str:
    """The configured log format, even when the rest of the settings are bad (else auto)."""
    try:
        return _LogFormatOnly().log_format
    except (ValidationError, OSError, ValueError):
        return "auto"


_ENV_NAMES = {"database_url": "DATABASE_URL", "cron_secret": "CRON_SECRET"}


def load_settings() -> Settings:
    """Read and validate the settings; a bad value raises ConfigError naming the variable."""
    try:
        settings = Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        # loc is the field name, or the alias (an environment variable name) that was set.
        field = str(error["loc"][0]) if error["loc"] else "settings"
        name = _ENV_NAMES.get(field.lower(), f"STUDIO_PUBLISH_{field.upper()}")
        if field.isupper():
            name = field
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name}: {message}") from None
    if settings.retry_max_seconds < settings.retry_base_seconds:
        raise ConfigError(
            "STUDIO_PUBLISH_RETRY_MAX_SECONDS: must be at least STUDIO_PUBLISH_RETRY_BASE_SECONDS"
        )
    return settings
