"""What the server needs from a platform stand-in.

A stand-in answers for one platform (or several that are one API). The server owns
everything that is the same for all of them: counting calls, latency, refusing tokens in
URLs, queued faults and random errors, lost responses, bodies and sockets. A stand-in
owns what differs: its URLs, its handlers and state, how it checks tokens, the shape of
its errors and any headers it adds to every answer.

Imports: a stand-in module imports ``wire``, ``ledger`` and ``standins.*`` only, anything
else under ``TYPE_CHECKING``. ``knobs`` and ``state`` derive ENDPOINTS and PLATFORMS from
the discovered stand-ins, so importing them back at run time would be a cycle.
"""

from __future__ import annotations

import abc
import threading
from typing import TYPE_CHECKING, ClassVar

from studio_publish.sandbox.wire import ApiError, Request, Route

if TYPE_CHECKING:
    from studio_publish.sandbox.knobs import Fault, Knobs
    from studio_publish.sandbox.ledger import Ledger
    from studio_publish.sandbox.state import Accounts, Ids, TokenProblem


class StandIn(abc.ABC):
    """One platform's stand-in. Subclass it in ``standins/<platform>.py`` (or a package of
    that name) and export the class as ``STANDIN``; discovery does the rest."""

    # The platforms it serves: AccountSpec.platform and LedgerEntry.platform values. The
    # module (or package) is named after the first.
    platforms: ClassVar[tuple[str, ...]]
    # First URL path segments it answers under ({url}/{prefix}/...). Stand-ins may share
    # a prefix (Instagram and Facebook share "graph"): each is asked in turn.
    prefixes: ClassVar[tuple[str, ...]]
    # Token realm: stand-ins with the same realm accept each other's tokens.
    realm: ClassVar[str]
    # Its endpoint names, each a prefix and a dot and a name ("graph.feed"), as faults,
    # error_rate_endpoints and the call statistics know them; the module docstring's URL
    # table says which call each is.
    endpoints: ClassVar[tuple[str, ...]]
    # The endpoints that make something happen on the platform (lose_response_rate).
    actions: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, knobs: Knobs, ledger: Ledger, ids: Ids, accounts: Accounts) -> None:
        # Shared with the server and the other stand-ins; knobs change in place at run time.
        self.knobs = knobs
        self.ledger = ledger
        self.ids = ids
        self.accounts = accounts
        # One lock for the stand-in's state: every operation under it is a few dict
        # lookups, and latency is applied outside it, so it never serialises slow calls.
        self._lock = threading.RLock()
        self.reset()

    # ---- routing ----------------------------------------------------------------------

    @abc.abstractmethod
    def route(self, req: Request, parts: list[str]) -> Route | None:
        """The route for a request whose path segments are ``parts`` (``parts[0]`` is one
        of ``prefixes``), or None when another stand-in with that prefix may serve it."""

    def unrouted(self, req: Request, parts: list[str]) -> Route | None:
        """The route for a path under this stand-in's prefix that no stand-in serves: the
        platform's own "not found". None: the sandbox's plain 404."""
        return None

    def call_name(self, req: Request, route: Route) -> str:
        """The endpoint name faults and statistics know this call by, once its body is read:
        the route's, unless one URL does several things a test wants to fail apart."""
        return route.endpoint

    # ---- tokens -----------------------------------------------------------------------

    def authenticate(self, req: Request, route: Route) -> str:
        """Check the Bearer token (in this stand-in's realm, for the account the URL
        names) and return who the call acts on, for the handler; or raise token_error."""
        if not route.needs_auth:
            return ""
        token = req.bearer
        if token is None:
            raise self.token_error("missing")
        check = self.accounts.check(token, self.realm, route.account)
        if check.problem is not None:
            raise self.token_error(check.problem)
        return self.caller(route, token, check.account_id)

    def caller(self, route: Route, token: str, owner: str | None) -> str:
        """Who a call with a good token acts on: by default the account the URL names."""
        return route.account or owner or ""

    # ---- the platform's error envelope ------------------------------------------------

    @abc.abstractmethod
    def token_error(self, problem: TokenProblem) -> ApiError:
        """The answer to a missing, expired or unknown token."""

    @abc.abstractmethod
    def request_error(self, status: int, message: str) -> ApiError:
        """The answer to a malformed request: a body too large or unparseable, a token in
        the URL."""

    @abc.abstractmethod
    def fault_error(self, fault: Fault, endpoint: str) -> ApiError:
        """The error a queued fault (or the random error rate) answers ``endpoint`` with:
        kinds "error", "rate_limit" and "expired_token"."""

    def usage_headers(self, route: Route, recent: int, limited: bool) -> dict[str, str]:
        """Headers added to every answer: ``recent`` is the number of platform calls in the
        last minute, ``limited`` whether this one was rate limited by a fault."""
        return {}

    # ---- where clients point ----------------------------------------------------------

    @abc.abstractmethod
    def bases(self, url: str) -> dict[str, str]:
        """Its API base URLs by name, given the sandbox's ``http://HOST:PORT``: the
        control API's health shows them as ``{name}_base``."""

    def env(self, url: str) -> dict[str, str]:
        """The settings that point studio-publish at it: STUDIO_PUBLISH_{NAME}_API_BASE
        for each of ``bases``."""
        return {
            f"STUDIO_PUBLISH_{name.upper()}_API_BASE": base
            for name, base in self.bases(url).items()
        }

    # ---- state ------------------------------------------------------------------------

    @abc.abstractmethod
    def reset(self) -> None:
        """Make the state empty, under ``self._lock``: every post, container and upload is
        forgotten (the ledger is the server's). Also what makes the state at construction."""

    def expire_container(self, container_id: str) -> bool:
        """Make a staged, unpublished item (a media container) report expired; False when
        this stand-in has none by that id."""
        return False
