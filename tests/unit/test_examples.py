"""The shipped examples stay deployable: the Vercel example's requirements name the wheel
that `pip wheel --no-deps ../.. -w vendor` builds for the version in pyproject.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_vercel_requirements_name_the_wheel_of_this_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    lines = (ROOT / "examples" / "vercel" / "requirements.txt").read_text().splitlines()
    requirements = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert requirements == [f"./vendor/studio_publish-{version}-py3-none-any.whl"]
    assert "examples/vercel/vendor/" in (ROOT / ".gitignore").read_text().splitlines()
