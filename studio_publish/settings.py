"""Settings from the environment (or a .env file in the working directory), validated at start."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

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
PREFIX = "STUDIO_PUBLISH_"
LOG_FORMATS = ("auto", "json", "console")


class Secret:
    """A secret setting: its value only through get_secret_value(), never in a repr."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class SettingError(ValueError):
    """A setting's value is wrong: ``variable`` names it as the environment does."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


def _setting(
    default: Any,
    kind: str = "text",
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    names: tuple[str, ...] = (),
    shown: bool = True,
) -> Any:
    """A setting's declaration: its default, what its text is read as ("text", "int",
    "float", "secret", or "choice" of LOG_FORMATS), its bounds, and the environment
    variables it is read from when not STUDIO_PUBLISH_<NAME> (the first one set wins); not
    ``shown`` in the settings' repr when it may carry a password or a token."""
    bounds = {"ge": ge, "gt": gt, "le": le}
    return field(default=default, repr=shown, metadata={"kind": kind, "names": names, **bounds})


@dataclass(frozen=True, init=False)
class Settings:
    """Every setting, from (first found wins) the constructor's arguments, the environment,
    the ``.env`` file of the working directory, then the default. Names are read in any case,
    as STUDIO_PUBLISH_<NAME>. A bad value raises SettingError naming the variable.

    Our own loader, not pydantic-settings: importing that (pydantic with it) was a sixth of
    an idle run-due's start-up (README.md, Performance), for what these few lines do.
    """

    database_url: str | None = _setting(
        None, names=("DATABASE_URL", "STUDIO_PUBLISH_DATABASE_URL"), shown=False
    )
    graph_api_base: str = _setting("https://graph.facebook.com/v25.0")
    tiktok_api_base: str = _setting("https://open.tiktokapis.com")
    threads_api_base: str = _setting("https://graph.threads.net/v1.0")
    # The Instagram API with Instagram Login: Instagram accounts added with --login instagram
    # (https://developers.facebook.com/docs/instagram-platform/reference names both hosts).
    instagram_api_base: str = _setting("https://graph.instagram.com/v25.0")
    # Where a Facebook reel's video is uploaded (by its URL): the Reels Publishing API's
    # rupload host, https://developers.facebook.com/docs/video-api/guides/reels-publishing
    facebook_upload_base: str = _setting("https://rupload.facebook.com")
    tiktok_client_key: str | None = _setting(None)
    tiktok_client_secret: Secret | None = _setting(None, "secret")  # never shown by repr()
    concurrency: int = _setting(16, "int", ge=1, le=1024)
    # Posts of one account in flight at once, across every run and host; with 1, an
    # account's posts go live in scheduled_for order (claim_due_posts enforces it).
    account_concurrency: int = _setting(1, "int", ge=1, le=1024)
    run_budget_seconds: float = _setting(50, "float", gt=0)
    lease_seconds: int = _setting(300, "int", ge=10)
    max_attempts: int = _setting(5, "int", ge=1, le=100)
    retry_base_seconds: float = _setting(60, "float", gt=0)
    retry_max_seconds: float = _setting(3600, "float", gt=0)
    poll_interval_seconds: float = _setting(5, "float", gt=0)
    poll_timeout_seconds: float = _setting(300, "float", gt=0)
    max_lateness_seconds: int = _setting(43200, "int", gt=0)
    # How far ahead run-due checks scheduled posts for what would make them fail (0: never).
    preflight_hours: float = _setting(24, "float", ge=0, le=24 * 30)
    http_timeout_seconds: float = _setting(30, "float", gt=0)
    log_format: Literal["auto", "json", "console"] = _setting("auto", "choice")
    alert_webhook_url: str | None = _setting(None, shown=False)  # may hold a token
    # One webhook call may take this long; alerts never hold up a run for longer.
    alert_timeout_seconds: float = _setting(5, "float", gt=0, le=30)
    # The cron hook (studio_publish.hook): the shared secret Vercel sends as a bearer
    # token, and how long one request may work (keep it below the function's maxDuration).
    cron_secret: Secret | None = _setting(
        None, "secret", names=("CRON_SECRET", "STUDIO_PUBLISH_CRON_SECRET")
    )
    hook_time_limit_seconds: float = _setting(50, "float", gt=0, le=900)
    # Where the embedded PostgreSQL keeps its data when DATABASE_URL is unset.
    data_dir: str | None = _setting(None)
    # Where media may come from (media_policy.py): the one folder local files are read
    # from (unset: none are), and the non-public hosts media URLs may name.
    media_root: str | None = _setting(None)
    media_allow_hosts: str = _setting("")

    def __init__(self, _env_file: str | None = ".env", **given: Any) -> None:
        unknown = given.keys() - _FIELDS.keys()
        if unknown:
            raise TypeError(f"Settings has no setting {sorted(unknown)[0]!r}")
        sources = _Sources(_env_file)
        for name, spec in _FIELDS.items():
            variable = _names(spec)[0]
            if name in given:
                value = _checked(spec, variable, given[name])
            else:
                found = sources.find(_names(spec))
                if found is None:
                    value = spec.default
                else:
                    variable, text = found
                    value = _checked(spec, variable, _parsed(spec, variable, text))
            object.__setattr__(self, name, value)

    def copy_with(self, **changes: Any) -> Settings:
        """These settings with ``changes``, checked as any setting given is."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return Settings(_env_file=None, **{**values, **changes})

    def media_policy(self) -> MediaPolicy:
        """Where media may come from; parsed once per process for these settings."""
        return _media_policy(self.media_root, self.media_allow_hosts)

    def changed_api_bases(self) -> dict[str, str]:
        """The platform hosts set to other than the real APIs, by environment variable: what
        `status` shows, so that a sandbox left configured (or forgotten) is plain to see."""
        return {
            f"{PREFIX}{name.upper()}": _without_credentials(getattr(self, name))
            for name in API_BASES
            if getattr(self, name) != _FIELDS[name].default
        }


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _names(spec: dataclasses.Field[Any]) -> tuple[str, ...]:
    names: tuple[str, ...] = spec.metadata["names"]
    return names or (f"{PREFIX}{spec.name.upper()}",)


class _Sources:
    """The environment, then the .env file (read only if a setting is not in the first)."""

    def __init__(self, env_file: str | None) -> None:
        self._env_file = env_file
        self._environment = {k.upper(): v for k, v in os.environ.items()}
        self._dotenv: dict[str, str] | None = None

    def find(self, names: tuple[str, ...]) -> tuple[str, str] | None:
        """The first of ``names`` set in the environment, else the first in the file."""
        for name in names:
            if name in self._environment:
                return name, self._environment[name]
        for name in names:
            if name in self._file:
                return name, self._file[name]
        return None

    @property
    def _file(self) -> dict[str, str]:
        if self._dotenv is None:
            self._dotenv = {}
            if self._env_file and os.path.isfile(self._env_file):
                from dotenv import dotenv_values  # the same parser pydantic-settings used

                values = dotenv_values(self._env_file, encoding="utf-8")
                self._dotenv = {k.upper(): v for k, v in values.items() if v is not None}
        return self._dotenv


def _parsed(spec: dataclasses.Field[Any], variable: str, text: str) -> Any:
    """A value read as text (the environment, .env) as the setting's kind."""
    kind = spec.metadata["kind"]
    if kind == "int":
        try:
            return int(text)
        except ValueError:
            number = _float(text)
            if number is not None and number.is_integer():
                return int(number)  # "5.0"
            raise SettingError(variable, f"must be a whole number, not {text!r}") from None
    if kind == "float":
        number = _float(text)
        if number is None:
            raise SettingError(variable, f"must be a number, not {text!r}")
        return number
    if kind == "secret":
        return Secret(text)
    return text


def _float(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _checked(spec: dataclasses.Field[Any], variable: str, value: Any) -> Any:
    """The setting's value after its checks, or SettingError naming ``variable``."""
    try:
        return _CHECKS.get(spec.name, _same)(_bounded(spec, value))
    except ValueError as exc:
        raise SettingError(variable, str(exc)) from None


def _bounded(spec: dataclasses.Field[Any], value: Any) -> Any:
    kind, meta = spec.metadata["kind"], spec.metadata
    if value is None and spec.default is None:
        return None
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise ValueError("must be a whole number")
        value = int(value)
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("must be a number")
        value = float(value)
        if math.isnan(value) or math.isinf(value):
            raise ValueError("must be a finite number")
    elif kind == "choice":
        if value not in LOG_FORMATS:
            raise ValueError(f"must be one of {', '.join(LOG_FORMATS)}, not {value!r}")
    elif kind == "secret":
        value = value if isinstance(value, Secret) else Secret(str(value))
    elif not isinstance(value, str):
        raise ValueError("must be text")
    if meta["ge"] is not None and value < meta["ge"]:
        raise ValueError(f"must be at least {meta['ge']:g}")
    if meta["gt"] is not None and value <= meta["gt"]:
        raise ValueError(f"must be more than {meta['gt']:g}")
    if meta["le"] is not None and value > meta["le"]:
        raise ValueError(f"must be at most {meta['le']:g}")
    return value


def _same(value: Any) -> Any:
    return value


def _http_url(value: str) -> str:
    return _check_http_url(value).rstrip("/")


def _optional_http_url(value: str | None) -> str | None:
    return _check_http_url(value) if value else None


def _blank_is_unset(value: str | None) -> str | None:
    return value or None


def _blank_secret_is_unset(value: Secret | None) -> Secret | None:
    return value if value and value.get_secret_value() else None


def _libpq_url(value: str | None) -> str | None:
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


def _media_root(value: str | None) -> str | None:
    _media_policy(value or None, "")  # a ValueError names what is wrong
    return value or None


def _media_allow_hosts(value: str) -> str:
    _media_policy(None, value)
    return value


# What each setting's value must be besides its kind and bounds (a ValueError says what).
_CHECKS: dict[str, Callable[[Any], Any]] = {
    **dict.fromkeys(API_BASES, _http_url),
    "alert_webhook_url": _optional_http_url,
    "tiktok_client_key": _blank_is_unset,
    "data_dir": _blank_is_unset,
    "database_url": _libpq_url,
    "cron_secret": _blank_secret_is_unset,
    "tiktok_client_secret": _blank_secret_is_unset,
    "media_root": _media_root,
    "media_allow_hosts": _media_allow_hosts,
}


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


def log_format_alone() -> str:
    """The configured log format, even when the rest of the settings are bad (else auto)."""
    try:
        found = _Sources(".env").find(_names(_FIELDS["log_format"]))
    except (OSError, ValueError):
        return "auto"
    return found[1] if found is not None and found[1] in LOG_FORMATS else "auto"


def load_settings() -> Settings:
    """Read and validate the settings; a bad value raises ConfigError naming the variable."""
    try:
        settings = Settings()
    except SettingError as exc:
        raise ConfigError(f"{exc.variable}: {exc.problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f".env: cannot be read ({type(exc).__name__})") from None
    if settings.retry_max_seconds < settings.retry_base_seconds:
        raise ConfigError(
            "STUDIO_PUBLISH_RETRY_MAX_SECONDS: must be at least STUDIO_PUBLISH_RETRY_BASE_SECONDS"
        )
    return settings
