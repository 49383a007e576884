"""Comments under published objects, which the Graph and Threads stand-ins share; not a
platform itself.

A stand-in keeps a :class:`CommentBox` of the comments (or replies) made under its published
objects; each goes into the ledger as a comment, so tests can count duplicates. The calls'
shapes are each stand-in's (its module docstring lists the URLs).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from studio_publish.sandbox.ledger import CommentEntry, Ledger
from studio_publish.sandbox.standins.graph_common import Node, graph_error, paginate, pick
from studio_publish.sandbox.wire import Request, Response, Route, as_str


@dataclass(frozen=True)
class Comment:
    id: str
    parent: str
    account: str
    text: str
    created: float


class CommentBox:
    def __init__(self, platform: str, ledger: Ledger) -> None:
        self.platform = platform
        self.ledger = ledger
        self._lock = threading.Lock()
        self._by_parent: dict[str, list[Comment]] = {}

    def add(self, comment_id: str, parent: str, account: str, text: str) -> Comment:
        now = time.time()
        comment = Comment(comment_id, parent, account, text, now)
        with self._lock:
            self._by_parent.setdefault(parent, []).append(comment)
        self.ledger.record_comment(
            CommentEntry(
                platform=self.platform,
                account=account,
                parent=parent,
                comment_id=comment_id,
                text=text,
                created_at=dt.datetime.fromtimestamp(now, dt.UTC),
            )
        )
        return comment

    def under(self, parent: str) -> list[Comment]:
        """The comments under ``parent``, newest first."""
        with self._lock:
            found = list(self._by_parent.get(parent, ()))
        return sorted(found, key=lambda c: c.created, reverse=True)


def post_comment(
    box: CommentBox, req: Request, account: str, parent: str, *, max_length: int, comment_id: str
) -> Response:
    """``POST /{object-id}/comments`` with ``message``: ``{"id": "<comment id>"}``."""
    message = as_str(req.params.get("message")) or ""
    if not message.strip():
        raise graph_error(100, "(#100) The parameter message is required")
    if len(message) > max_length:
        raise graph_error(100, f"(#100) The comment is longer than {max_length} characters")
    return Response(200, {"id": box.add(comment_id, parent, account, message).id})


def list_comments(
    box: CommentBox,
    req: Request,
    parent: str,
    node: Node,
    record: Callable[[Comment], dict[str, Any]],
    *,
    newest_first: bool = True,
) -> Response:
    """``GET /{object-id}/comments`` (or a thread's replies), paged."""
    names = node.asked(req)
    found = box.under(parent) if newest_first else box.under(parent)[::-1]
    return Response(200, paginate(req, [pick(record(c), names) for c in found]))


def comments_route(
    req: Request,
    box: CommentBox,
    object_id: str,
    owner: str,
    *,
    max_length: int,
    new_id: Callable[[], str],
    node: Node,
    record: Callable[[Comment], dict[str, Any]],
    newest_first: Callable[[Request], bool] = lambda req: True,
) -> Route:
    """The route of ``/{object-id}/comments`` for an object ``owner`` published: a new
    comment (``graph.comments``) or the listing (``graph.comments_list``)."""
    if req.method == "POST":
        return Route(
            "graph.comments",
            lambda r, who: post_comment(
                box, r, who, object_id, max_length=max_length, comment_id=new_id()
            ),
            account=owner,
        )
    return Route(
        "graph.comments_list",
        lambda r, who: list_comments(box, r, object_id, node, record, newest_first=newest_first(r)),
        account=owner,
    )
