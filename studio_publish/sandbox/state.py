"""Accounts, tokens and id generation shared by the platform stand-ins.

Tokens are stored only as SHA-256 digests (see ``wire.token_digest``): the sandbox can
check them, but nothing it prints, logs or returns can reveal one. A token belongs to a
*realm*, declared by the stand-ins: platforms that share one (Instagram and Facebook
share Graph's) accept each other's tokens. Which error a bad token gets is the stand-in's
business (``StandIn.token_error``); this module only says what is wrong with it.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from studio_publish.sandbox.knobs import Knobs
from studio_publish.sandbox.standins import STANDINS
from studio_publish.sandbox.wire import Grant, token_digest

# Every platform a discovered stand-in serves, and the token realm of each.
PLATFORMS = tuple(platform for standin in STANDINS for platform in standin.platforms)
_REALMS = {platform: standin.realm for standin in STANDINS for platform in standin.platforms}
DEFAULT_PRIVACY_LEVELS = ("PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY")

TokenProblem = Literal["missing", "expired", "unknown"]


def _realm(platform: str) -> str:
    # An unknown platform is a realm of its own, with no accounts and no tokens.
    return _REALMS.get(platform, platform)


@dataclass
class AccountSpec:
    """An account the sandbox knows by name, with the tokens it accepts for it.

    Without any AccountSpec the sandbox accepts any non-empty token (handy for the demo);
    registering tokens for an account makes only those valid for it.
    """

    platform: str  # one of PLATFORMS
    account_id: str  # the platform's id: IG user id, Page id, TikTok open_id...
    access_tokens: tuple[str, ...] = field(default=(), repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    username: str | None = None
    nickname: str | None = None
    privacy_level_options: tuple[str, ...] = DEFAULT_PRIVACY_LEVELS
    max_video_post_duration_sec: int = 600

    def __post_init__(self) -> None:
        if self.platform not in PLATFORMS:
            raise ValueError(f"platform must be one of {', '.join(PLATFORMS)}")
        if not self.account_id:
            raise ValueError("account_id is required")
        self.access_tokens = tuple(self.access_tokens)
        self.privacy_level_options = tuple(self.privacy_level_options)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AccountSpec:
        data = dict(data)
        if "access_token" in data:
            data["access_tokens"] = (*data.get("access_tokens", ()), data.pop("access_token"))
        allowed = set(cls.__dataclass_fields__)
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown account fields: {', '.join(sorted(unknown))}")
        return cls(**data)

    def public(self) -> dict[str, Any]:
        """What the control API shows: everything but the tokens."""
        return {
            "platform": self.platform,
            "account_id": self.account_id,
            "username": self.username,
            "tokens_registered": len(self.access_tokens),
            "refresh_token_registered": self.refresh_token is not None,
        }


@dataclass
class _Token:
    realm: str
    account_id: str
    expires_at: float | None = None  # unix time


@dataclass(frozen=True)
class TokenCheck:
    problem: TokenProblem | None  # None: the token is good for the call
    account_id: str | None  # whom it was registered or issued for; None: unregistered


class Ids:
    """Numeric ids that look like the platforms' (long digit strings), unique per run."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        # A per-run offset keeps ids from two sandbox runs from colliding in one database.
        self._base = secrets.randbelow(10**9) * 10**6

    def next(self, prefix: str = "17") -> str:
        with self._lock:
            n = next(self._counter)
        return f"{prefix}{self._base + n:016d}"


class Accounts:
    def __init__(self, knobs: Knobs) -> None:
        self._knobs = knobs
        self._lock = threading.Lock()
        self._accounts: dict[tuple[str, str], AccountSpec] = {}
        self._tokens: dict[str, _Token] = {}  # digest -> owner
        self._expired: set[str] = set()  # digests
        self._refresh: dict[str, tuple[str, float | None]] = {}  # digest -> (open_id, exp)
        self._spent_refresh: set[str] = set()  # rotated-away refresh tokens

    # ---- registration ---------------------------------------------------------------

    def add(self, spec: AccountSpec) -> None:
        realm = _realm(spec.platform)
        with self._lock:
            self._accounts[(realm, spec.account_id)] = spec
            for token in spec.access_tokens:
                self._tokens[token_digest(token)] = _Token(realm, spec.account_id)
            if spec.refresh_token:
                self._refresh[token_digest(spec.refresh_token)] = (spec.account_id, None)

    def get(self, platform: str, account_id: str) -> AccountSpec | None:
        with self._lock:
            return self._accounts.get((_realm(platform), account_id))

    def settings(self, platform: str, account_id: str) -> AccountSpec:
        """The registered account, or the defaults an unregistered one gets."""
        return self.get(platform, account_id) or AccountSpec(platform, account_id)

    def list(self) -> list[AccountSpec]:
        with self._lock:
            return list(self._accounts.values())

    def set_refresh_token(self, open_id: str, refresh_token: str) -> None:
        with self._lock:
            self._refresh[token_digest(refresh_token)] = (open_id, None)

    def expire_token(self, token: str) -> None:
        with self._lock:
            self._expired.add(token_digest(token))

    def expire_account(self, platform: str, account_id: str) -> int:
        """Expire every token registered or issued for an account; returns how many."""
        realm = _realm(platform)
        with self._lock:
            digests = [
                d
                for d, t in self._tokens.items()
                if t.realm == realm and t.account_id == account_id
            ]
            self._expired.update(digests)
            return len(digests)

    def clear(self) -> None:
        with self._lock:
            self._accounts.clear()
            self._tokens.clear()
            self._expired.clear()
            self._refresh.clear()
            self._spent_refresh.clear()

    # ---- checks -----------------------------------------------------------------------

    def _expired_or_unknown(self, token: str, realm: str) -> tuple[str, _Token | None]:
        digest = token_digest(token)
        owner = self._tokens.get(digest)
        if digest in self._expired:
            return "expired", owner
        if owner is not None and owner.expires_at is not None and time.time() >= owner.expires_at:
            return "expired", owner
        if owner is None and self._knobs.strict_tokens:
            return "unknown", None
        if owner is not None and owner.realm != realm:
            return "unknown", None
        return "ok", owner

    def check(self, token: str, realm: str, account_id: str | None = None) -> TokenCheck:
        """What is wrong with ``token`` for a call in ``realm``; with ``account_id`` (the
        account the URL names), a token registered for another account is "unknown" when
        that account has tokens of its own."""
        with self._lock:
            state, owner = self._expired_or_unknown(token, realm)
            account = self._accounts.get((realm, account_id)) if account_id else None
        owner_id = owner.account_id if owner is not None else None
        if state == "expired":
            return TokenCheck("expired", owner_id)
        wrong_account = account is not None and account.access_tokens and owner_id != account_id
        if state == "unknown" or wrong_account:
            return TokenCheck("unknown", None)
        return TokenCheck(None, owner_id)

    def rotate_refresh(
        self, refresh_token: str, grant: Grant, *, realm: str, anonymous: str
    ) -> str | None:
        """Spend a refresh token for ``grant``'s new pair; the old one stops working.
        Returns the account the pair is for, or None (the refresh token is invalid).
        ``anonymous`` is the account of an unregistered refresh token (lenient mode)."""
        digest = token_digest(refresh_token)
        now = time.time()
        with self._lock:
            if digest in self._spent_refresh or digest in self._expired:
                return None
            known = self._refresh.pop(digest, None)
            if known is None:
                if self._knobs.strict_tokens:
                    return None
                known = (anonymous, None)
            account_id, expires_at = known
            if expires_at is not None and now >= expires_at:
                return None
            self._spent_refresh.add(digest)
            self._tokens[token_digest(grant.access_token)] = _Token(
                realm, account_id, now + grant.expires_in
            )
            self._refresh[token_digest(grant.refresh_token)] = (
                account_id,
                now + grant.refresh_expires_in,
            )
        return account_id
