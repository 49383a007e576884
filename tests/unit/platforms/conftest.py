"""Fixtures the platform clients' tests share."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def video(tmp_path: Path) -> Path:
    """A local video of 3072 bytes: one TikTok chunk."""
    path = tmp_path / "clip.mp4"
    path.write_bytes(bytes(range(256)) * 12)
    return path
