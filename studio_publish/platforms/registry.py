"""The platforms studio-publish publishes to: one line each.

Adding a platform is one package in ``studio_publish/platforms/<name>/`` that builds a
``PlatformSpec`` (see spec.py), one line here, its settings in settings.py, and a sandbox
stand-in. Nothing else in the package names a platform.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from studio_publish.errors import UnknownPlatform
from studio_publish.platforms import facebook, instagram, threads, tiktok
from studio_publish.platforms.spec import PlatformSpec

if TYPE_CHECKING:
    from studio_publish.platforms.base import Platform
    from studio_publish.settings import Settings

PLATFORMS: dict[str, PlatformSpec] = {
    spec.name: spec
    for spec in (
        instagram.SPEC,
        facebook.SPEC,
        tiktok.SPEC,
        threads.SPEC,
    )
}


def names() -> tuple[str, ...]:
    return tuple(PLATFORMS)


def spec_for(name: str, field: str = "platform") -> PlatformSpec:
    """The spec of ``name``; UnknownPlatform naming ``field`` when there is none."""
    try:
        return PLATFORMS[name]
    except (KeyError, TypeError):
        raise UnknownPlatform(name, names(), field) from None


def refreshing() -> list[str]:
    """The platforms whose access tokens run-due refreshes."""
    return [spec.name for spec in PLATFORMS.values() if spec.refreshes_tokens]


def make_client(name: str, settings: Settings) -> Platform:
    """The client for ``name``; the Graph platforms share this process's usage throttle."""
    return spec_for(name).make_client(settings)
