"""Platform clients: ``get_platform(name, settings)`` returns the client for a platform."""

from __future__ import annotations

from studio_publish.platforms.base import Platform
from studio_publish.platforms.facebook import FacebookPlatform
from studio_publish.platforms.instagram import InstagramPlatform
from studio_publish.platforms.tiktok import TikTokPlatform
from studio_publish.settings import Settings

PLATFORMS = ("instagram", "facebook", "tiktok")


def get_platform(name: str, settings: Settings) -> Platform:
    """The client for ``name``; the Graph platforms share this process's usage throttle."""
    if name == "instagram":
        return InstagramPlatform(settings)
    if name == "facebook":
        return FacebookPlatform(settings)
    if name == "tiktok":
        return TikTokPlatform(settings)
    raise ValueError(f"unknown platform {name!r}; expected one of {', '.join(PLATFORMS)}")


__all__ = ["PLATFORMS", "FacebookPlatform", "InstagramPlatform", "TikTokPlatform", "get_platform"]
