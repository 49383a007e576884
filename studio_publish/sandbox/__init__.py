"""A local stand-in for the Graph API and the TikTok Content Posting API.

Start one in a test::

    with Sandbox(port=0, latency=0.05) as sandbox:
        env = sandbox.env()  # STUDIO_PUBLISH_GRAPH_API_BASE / _TIKTOK_API_BASE
        ...
        assert sandbox.ledger.duplicates() == []

or from the command line with ``studio-publish sandbox --port N`` (:func:`serve`).
"""

from studio_publish.sandbox.knobs import ENDPOINTS, Fault, Knobs
from studio_publish.sandbox.ledger import Duplicate, Ledger, LedgerEntry
from studio_publish.sandbox.server import DEFAULT_PORT, GRAPH_VERSION, Sandbox, serve
from studio_publish.sandbox.state import AccountSpec
from studio_publish.sandbox.tiktok import chunk_plan_problem

__all__ = [
    "DEFAULT_PORT",
    "ENDPOINTS",
    "GRAPH_VERSION",
    "AccountSpec",
    "Duplicate",
    "Fault",
    "Knobs",
    "Ledger",
    "LedgerEntry",
    "Sandbox",
    "chunk_plan_problem",
    "serve",
]
