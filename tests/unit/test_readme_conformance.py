"""README's "Platform conformance" table names only knobs, faults and endpoints the sandbox
has, and gives every sandbox endpoint a client calls a row."""

from __future__ import annotations

import re
from pathlib import Path

from studio_publish.sandbox.knobs import ENDPOINTS, FAULT_KINDS, Knobs

README = Path(__file__).resolve().parents[2] / "README.md"
# Served by the sandbox, called by no client.
UNCALLED: set[str] = set()
COLUMNS = 6


def section() -> str:
    text = README.read_text()
    start = text.index("## Platform conformance\n")
    return text[start : text.index("\n## ", start + 1)]


def rows() -> list[list[str]]:
    found = re.search(r"<!-- conformance -->\n(.*?)<!-- /conformance -->", section(), re.DOTALL)
    assert found, "the conformance table has no markers"
    lines = [line for line in found.group(1).splitlines() if line.startswith("| ")]
    table = [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[1:]]
    assert table, "the conformance table is empty"
    for row in table:
        assert len(row) == COLUMNS, row
    return table


def names(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


def test_every_knob_and_fault_named_exists() -> None:
    """In the last column, and in the list of what every endpoint takes above the table, a
    backticked name is a knob, a queued fault (``fault:KIND``) or a sandbox endpoint."""
    cells = [row[5] for row in rows()]
    every = re.search(r"Every\s+endpoint also takes (.*?); the calls", section(), re.DOTALL)
    assert every, "the paragraph naming what every endpoint takes is gone"
    cells.append(every.group(1))
    named = {name for cell in cells for name in names(cell)}
    faults = {name.removeprefix("fault:") for name in named if name.startswith("fault:")}
    endpoints = {name for name in named if "." in name}
    knobs = named - endpoints - {f"fault:{kind}" for kind in faults}
    assert faults <= set(FAULT_KINDS), faults - set(FAULT_KINDS)
    assert knobs <= Knobs.names(), knobs - Knobs.names()
    assert endpoints <= set(ENDPOINTS), endpoints - set(ENDPOINTS)
    assert {"container_read_failures", "instagram_login_tokens_refused", "strict_tokens"} <= knobs
    assert {"lose_response", "hang", "error", "rate_limit", "expired_token"} <= faults


def test_every_endpoint_named_exists_and_every_called_endpoint_has_a_row() -> None:
    listed = set()
    for row in rows():
        (endpoint,) = names(row[4]) or [row[4]]
        if endpoint.startswith("not served"):
            continue
        assert endpoint in ENDPOINTS, endpoint
        listed.add(endpoint)
    assert listed == set(ENDPOINTS) - UNCALLED


def test_every_call_cites_its_documentation() -> None:
    for row in rows():
        assert re.match(r"https://developers\.(facebook|tiktok)\.com/", row[3]), row[:2]
        assert names(row[1]), row[:2]  # the method and path
        assert "→" in row[2], row[:2]  # the request and the answer
