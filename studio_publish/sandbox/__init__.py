"""A local stand-in for the platforms' APIs: the Graph API (Instagram, Facebook Pages)
and the TikTok Content Posting API, one stand-in a platform in ``standins/``.

Start one in a test::

    with Sandbox(port=0, latency=0.05) as sandbox:
        env = sandbox.env()  # STUDIO_PUBLISH_GRAPH_API_BASE / _TIKTOK_API_BASE
        ...
        assert sandbox.ledger.duplicates() == []

or from the command line with ``studio-publish sandbox --port N`` (:func:`serve`).
"""

from studio_publish.sandbox.knobs import ENDPOINTS, Fault, Knobs
from studio_publish.sandbox.ledger import Duplicate, Ledger, LedgerEntry
from studio_publish.sandbox.server import DEFAULT_PORT, Sandbox, serve
from studio_publish.sandbox.standins import STANDINS, StandIn
from studio_publish.sandbox.standins.graph_common import GRAPH_VERSION
from studio_publish.sandbox.standins.tiktok import chunk_plan_problem
from studio_publish.sandbox.state import AccountSpec

__all__ = [
    "DEFAULT_PORT",
    "ENDPOINTS",
    "GRAPH_VERSION",
    "STANDINS",
    "AccountSpec",
    "Duplicate",
    "Fault",
    "Knobs",
    "Ledger",
    "LedgerEntry",
    "Sandbox",
    "StandIn",
    "chunk_plan_problem",
    "serve",
]
