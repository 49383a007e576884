"""Unit tests run without a database: pure functions, the platform clients on mocked HTTP,
the sandbox's stand-ins in-process. They take seconds (`pytest tests/unit`).

A unit test that asks for a database fixture fails here: move it to tests/integration.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    pytest.fail("unit tests have no database: move this test to tests/integration")


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """No proxy in the environment: the run's client is then the lean one (and a plain call
    takes the short path); with one, httpx's own pool speaks to it."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
