"""Unit tests run without a database: pure functions, the platform clients on mocked HTTP,
the sandbox's stand-ins in-process. They take seconds (`pytest tests/unit`).

A unit test that asks for a database fixture fails here: move it to tests/integration.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    pytest.fail("unit tests have no database: move this test to tests/integration")
