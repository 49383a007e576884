from __future__ import annotations

import pytest
from platform_fakes import make_settings

from studio_publish.platforms import (
    FacebookPlatform,
    InstagramPlatform,
    TikTokPlatform,
    get_platform,
)


@pytest.mark.parametrize(
    ("name", "cls", "refreshes"),
    [
        ("instagram", InstagramPlatform, False),
        ("facebook", FacebookPlatform, False),
        ("tiktok", TikTokPlatform, True),
    ],
)
def test_get_platform(name: str, cls: type, refreshes: bool) -> None:
    platform = get_platform(name, make_settings())
    assert isinstance(platform, cls)
    assert platform.name == name
    assert platform.can_refresh_tokens is refreshes


def test_graph_platforms_share_one_throttle() -> None:
    settings = make_settings()
    instagram, facebook = get_platform("instagram", settings), get_platform("facebook", settings)
    assert isinstance(instagram, InstagramPlatform) and isinstance(facebook, FacebookPlatform)
    assert instagram.throttle is facebook.throttle


def test_unknown_platform() -> None:
    with pytest.raises(ValueError, match="unknown platform"):
        get_platform("myspace", make_settings())
