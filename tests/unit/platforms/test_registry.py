"""The registry: every platform's spec and client agree, and nothing else lists platforms."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.platform_fakes import make_settings

from studio_publish.errors import UnknownPlatform
from studio_publish.platforms import registry
from studio_publish.platforms.spec import POST_TYPES

PACKAGE = Path(registry.__file__).resolve().parent.parent


@pytest.mark.parametrize("name", registry.names())
def test_each_spec_makes_its_client(name: str) -> None:
    spec = registry.spec_for(name)
    client = registry.make_client(name, make_settings())
    assert client.name == spec.name == name
    # Some of its accounts' tokens refresh: by their login (Instagram: Instagram Login's).
    logins = (spec.login(), *spec.logins)
    assert client.can_refresh_tokens is any(login.refreshes_tokens for login in logins)


@pytest.mark.parametrize("name", registry.names())
def test_each_spec_is_consistent(name: str) -> None:
    spec = registry.spec_for(name)
    assert set(spec.post_types) <= set(POST_TYPES)
    for shape, post_type in spec.default_types.items():
        assert post_type in spec.post_types, (shape, post_type)
    for rule in spec.post_types.values():
        assert rule.kinds <= set(spec.media), "a type takes a kind the platform has no rule for"
    for key, option in spec.options.items():
        assert option.types <= set(spec.post_types), key
    assert getattr(make_settings(), spec.api_base_setting).startswith("http")
    # The demo publishes one post of each type the platform has.
    assert spec.demo.posts


def test_graph_platforms_share_one_throttle() -> None:
    settings = make_settings()
    clients = [registry.make_client(name, settings) for name in registry.names()]
    throttles = {id(c.throttle) for c in clients if hasattr(c, "throttle")}
    assert len(throttles) == 1


def test_unknown_platform_names_the_field() -> None:
    with pytest.raises(UnknownPlatform, match="--platform: unsupported platform 'myspace'"):
        registry.spec_for("myspace", "--platform")


def test_no_module_outside_the_platform_packages_names_a_platform() -> None:
    """The architecture's rule: only a platform's own package (and the sandbox's stand-ins,
    which are the platform's fake) name it; everything else reads the registry."""
    names = "|".join(registry.names())
    pattern = re.compile(rf"""["']({names})["']""")
    allowed = {PACKAGE / "platforms" / name for name in registry.names()}
    offenders = []
    for path in PACKAGE.rglob("*"):
        if path.suffix not in (".py", ".sql") or PACKAGE / "sandbox" in path.parents:
            continue
        # Migrations are history, applied once each (in a wheel they ship as migrations/):
        # 0005 added the CHECK that named the platforms, 0007 dropped it.
        if PACKAGE / "migrations" in path.parents:
            continue
        if any(folder in path.parents for folder in allowed):
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(PACKAGE)}:{number}: {line.strip()}")
    assert offenders == []


def test_every_platform_has_a_sandbox_stand_in_that_the_demo_reaches() -> None:
    from studio_publish.sandbox import Sandbox
    from studio_publish.sandbox.state import PLATFORMS as SERVED

    assert set(registry.names()) <= set(SERVED)
    settings = make_settings()
    with Sandbox(port=0) as box:
        pointed = {name.removeprefix("STUDIO_PUBLISH_").lower() for name in box.env()}
    for name in registry.names():  # the sandbox's exports cover every platform's API base
        setting = registry.spec_for(name).api_base_setting
        assert setting in pointed and hasattr(settings, setting)
