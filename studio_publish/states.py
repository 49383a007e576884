"""A post's states, the outcomes of an attempt, the reasons a post fails, every move between
states, and the Transition the engine records, declared once.

The SQL guards take their states from :data:`MOVES` (each state-changing query is given
``from_states`` and ``to_state``), so a move this table does not allow changes zero rows;
the dry runs ask :func:`allows`, and a refused command explains itself with
:func:`refusal`. Nothing else lists which state may become which.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # an annotation only: `status` needs the states, not the domain types
    from studio_publish.domain import Published


class PostState(enum.StrEnum):
    """`status` of a post (spec: "States of a post")."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    PUBLISHING = "publishing"
    POSTED = "posted"
    FAILED = "failed"
    NEEDS_REVIEW = "needs_review"  # the platform may or may not have it: a person decides
    CANCELLED = "cancelled"


class Outcome(enum.StrEnum):
    """What one attempt came to: `studio_publish_attempts.outcome` and the run's summary."""

    POSTED = "posted"
    RETRY = "retry"  # back to scheduled after a backoff; the attempt counts
    WAIT = "wait"  # back to scheduled for a quota window or processing; costs no attempt
    REAUTH = "reauth"  # held until a person re-authorises the account; costs no attempt
    FAILED = "failed"
    NEEDS_REVIEW = "needs_review"
    MISSED = "missed"  # found due too long after its time: failed, never sent
    LEASE_LOST = "lease_lost"  # another run took the post over; it records the outcome

    @property
    def state(self) -> PostState | None:
        """The state the post is left in (None: this run no longer decides it)."""
        return _STATE_AFTER.get(self)


_STATE_AFTER = {
    Outcome.POSTED: PostState.POSTED,
    Outcome.RETRY: PostState.SCHEDULED,
    Outcome.WAIT: PostState.SCHEDULED,
    Outcome.REAUTH: PostState.SCHEDULED,
    Outcome.FAILED: PostState.FAILED,
    Outcome.NEEDS_REVIEW: PostState.NEEDS_REVIEW,
    Outcome.MISSED: PostState.FAILED,
}


class FailureReason(enum.StrEnum):
    """`failure_reason` of a failed or needs_review post."""

    PLATFORM = "platform"  # the platform refused it for good, with its message
    INVALID = "invalid"  # the row breaks a rule; the message names the field
    MAX_ATTEMPTS = "max_attempts"
    MISSED = "missed"
    NO_ACCOUNT = "no_account"
    ACCOUNT_MISMATCH = "account_mismatch"
    UNKNOWN_OUTCOME = "unknown_outcome"  # needs_review: nothing can tell whether it is live
    DUPLICATE_PLATFORM_POST = "duplicate_platform_post"
    INTERNAL_ERROR = "internal_error"
    PROCESSING_TIMEOUT = "processing_timeout"


class CommentState(enum.StrEnum):
    """A first comment's ``state`` (studio_publish_comments; engine/comments.py). Its post
    stays ``posted`` whatever becomes of it."""

    PENDING = "pending"  # due at next_attempt_at
    SENDING = "sending"  # claimed by a run, until its lease runs out
    POSTED = "posted"  # comment_id holds the platform's id
    FAILED = "failed"  # failed for good: error says why (a comment_failed alert)


class Move(enum.StrEnum):
    """Every change of a post's state, by the engine or by an operator's command."""

    CLAIM = "claim"  # run-due takes a due post
    RELEASE = "release"  # run-due gives back a claim it took ahead and never started
    PUBLISH_NOW = "publish"  # `publish POST_ID`, whatever its time
    POST = "post"  # the platform has it
    RETRY_LATER = "retry_later"  # retry, wait or hold for re-authorisation
    FAIL = "fail"  # failed for good, or needs_review, with the reason
    MISS = "miss"  # first found due too long after its time
    CANCEL = "cancel"
    RESCHEDULE = "reschedule"
    RETRY_FAILED = "retry_failed"
    CONFIRM_NOT_LIVE = "confirm_not_live"
    CONFIRM_LIVE = "confirm_live"
    REPUBLISH = "republish"  # `publish --force`: a new copy of a posted post


S = PostState


@dataclass(frozen=True)
class MoveRule:
    """Which states a move leaves from and where it goes; why each other state refuses."""

    sources: frozenset[PostState]
    targets: frozenset[PostState]
    # What an operator reads when a post in that state is refused (``{id}`` is the post).
    refusals: Mapping[PostState, str] = field(default_factory=dict)

    def guard(self) -> dict[str, Any]:
        """The parameters every state-changing query is guarded by."""
        targets = sorted(str(s) for s in self.targets)
        params: dict[str, Any] = {
            "from_states": sorted(str(s) for s in self.sources),
            "to_states": targets,
        }
        if len(targets) == 1:
            params["to_state"] = targets[0]
        return params


_BEING_PUBLISHED = "it is being published by another process right now"
_UNKNOWN = (
    "its last outcome is unknown: check the platform, then `confirm-live {id}` if it is "
    "live, or `retry-failed --id {id} --confirm-not-live` if it is not"
)

MOVES: Mapping[Move, MoveRule] = {
    Move.CLAIM: MoveRule(frozenset({S.SCHEDULED}), frozenset({S.PUBLISHING})),
    Move.RELEASE: MoveRule(frozenset({S.PUBLISHING}), frozenset({S.SCHEDULED})),
    Move.PUBLISH_NOW: MoveRule(
        frozenset({S.SCHEDULED, S.DRAFT, S.FAILED}),
        frozenset({S.PUBLISHING}),
        {
            S.PUBLISHING: _BEING_PUBLISHED,
            S.NEEDS_REVIEW: _UNKNOWN,
            S.CANCELLED: "it was cancelled",
            S.POSTED: "it is already live ({where}); `publish --force {id}` publishes a new copy",
        },
    ),
    Move.POST: MoveRule(frozenset({S.PUBLISHING}), frozenset({S.POSTED})),
    Move.RETRY_LATER: MoveRule(frozenset({S.PUBLISHING}), frozenset({S.SCHEDULED})),
    Move.FAIL: MoveRule(frozenset({S.PUBLISHING}), frozenset({S.FAILED, S.NEEDS_REVIEW})),
    Move.MISS: MoveRule(frozenset({S.SCHEDULED}), frozenset({S.FAILED})),
    Move.CANCEL: MoveRule(
        frozenset({S.DRAFT, S.SCHEDULED}),
        frozenset({S.CANCELLED}),
        {
            S.PUBLISHING: "it is being published right now",
            S.POSTED: "it is already live",
            S.CANCELLED: "it is already cancelled",
            S.FAILED: "it has failed; nothing will publish it unless retried",
            S.NEEDS_REVIEW: "its outcome is unknown; review it first",
        },
    ),
    Move.RESCHEDULE: MoveRule(
        frozenset({S.DRAFT, S.SCHEDULED, S.FAILED}),
        frozenset({S.SCHEDULED}),
    ),
    Move.RETRY_FAILED: MoveRule(
        frozenset({S.FAILED}),
        frozenset({S.SCHEDULED}),
        {
            S.NEEDS_REVIEW: (
                "it needs review: it may be live. Check the platform; if it is not there, "
                "run `retry-failed --id {id} --confirm-not-live`"
            ),
        },
    ),
    Move.CONFIRM_NOT_LIVE: MoveRule(frozenset({S.NEEDS_REVIEW}), frozenset({S.SCHEDULED})),
    Move.CONFIRM_LIVE: MoveRule(frozenset({S.NEEDS_REVIEW}), frozenset({S.POSTED})),
    Move.REPUBLISH: MoveRule(
        frozenset({S.POSTED}),
        frozenset({S.SCHEDULED}),  # the copy's state; the posted original stays posted
    ),
}


@dataclass(frozen=True)
class Transition:
    """Where a claimed post goes next, and what its attempt row records."""

    outcome: Outcome
    message: str = ""
    reason: FailureReason | None = None  # for failed and needs_review
    delay_seconds: float = 0.0  # for scheduled: when it is due again
    give_back_attempt: bool = False  # waiting for a quota, processing or a person costs none
    published: Published | None = None  # for posted
    error_class: str | None = None
    http_status: int | None = None
    mark_reauth: bool = False  # the account needs a person to re-authorise it

    @property
    def state(self) -> PostState | None:
        return self.outcome.state


# What each move is called in a refusal: "post X cannot be cancelled: ...".
_VERBS = {
    Move.PUBLISH_NOW: "published",
    Move.CANCEL: "cancelled",
    Move.RESCHEDULE: "rescheduled",
    Move.RETRY_FAILED: "retried",
    Move.CONFIRM_NOT_LIVE: "confirmed not live",
    Move.CONFIRM_LIVE: "confirmed live",
    Move.REPUBLISH: "republished",
}


def allows(move: Move, state: str) -> bool:
    """Whether a post in ``state`` may make ``move`` (what the SQL guard will say)."""
    return state in MOVES[move].sources


def guard(move: Move) -> dict[str, Any]:
    return MOVES[move].guard()


def refusal(move: Move, state: str, post_id: str, **details: Any) -> str:
    """Why a post in ``state`` does not make ``move``, in one sentence for an operator."""
    transition = MOVES[move]
    known = state in {s.value for s in PostState}
    why = transition.refusals.get(PostState(state)) if known else None
    if why is None:
        allowed = " or ".join(sorted(transition.sources))
        article = "an" if allowed[0] in "aeiou" else "a"
        why = f"it is {state}: only {article} {allowed} post can be {_VERBS[move]}"
    return f"post {post_id} cannot be {_VERBS[move]}: " + why.format(id=post_id, **details)
