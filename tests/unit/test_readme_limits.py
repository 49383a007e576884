"""The README's limits tables are the platform specs' declarations, so they cannot drift."""

from __future__ import annotations

import re
from pathlib import Path

from studio_publish.platforms import limits, registry

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = re.compile(r"<!-- limits:[^\n]*-->\n(.*?)<!-- /limits -->", re.DOTALL)


def readme_tables() -> str:
    found = SECTION.search(README.read_text())
    assert found, "the README has no limits section between its markers"
    return found.group(1)


def test_the_readme_tables_are_the_declared_limits() -> None:
    assert readme_tables() == limits.markdown(), (
        "README.md's limits tables differ from the platform specs: paste the output of "
        "`python -m studio_publish.platforms.limits` between the markers"
    )


def test_every_platform_and_post_type_has_a_row() -> None:
    tables = readme_tables()
    for spec in registry.PLATFORMS.values():
        for post_type, rule in spec.post_types.items():
            assert f"| {spec.display_name} | {post_type} |" in tables
            if rule.caption is not None:
                assert f"{rule.caption.max_length:,}" in tables


def test_instagram_hashtags_are_refused_at_the_documented_30_and_warned_above_5() -> None:
    caption = registry.spec_for("instagram").post_types["image"].caption
    assert caption is not None
    assert (caption.max_hashtags, caption.advised_hashtags) == (30, 5)
    assert "| 30 (a warning above 5) |" in readme_tables()
