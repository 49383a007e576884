"""The control API under /_sandbox/, so a test driving the real CLI in a subprocess can
read the ledger and turn knobs. It is unauthenticated: the sandbox is a local test tool."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from studio_publish.sandbox.knobs import Fault
from studio_publish.sandbox.state import AccountSpec
from studio_publish.sandbox.wire import Request, Response

if TYPE_CHECKING:
    from studio_publish.sandbox.server import Sandbox

HELP = {
    "GET /_sandbox/health": "liveness, and every stand-in's base URLs ({name}_base)",
    "GET /_sandbox/media/photo.jpg": "a sample photo to schedule (--media), as a CDN would",
    "GET /_sandbox/ledger[?platform=&account=&destination=]": (
        "every post that went live (destination profile) or to a TikTok inbox (inbox), "
        "and duplicates"
    ),
    "GET /_sandbox/ledger/duplicates": "captions live more than once on one account",
    "GET /_sandbox/knobs": "current knobs",
    "POST /_sandbox/knobs": "set knobs: {name: value, ...}",
    "GET /_sandbox/faults": "queued faults",
    "POST /_sandbox/faults": "queue a fault {endpoint, kind, count, ...} or {faults: [...]}",
    "DELETE /_sandbox/faults": "drop all queued faults",
    "POST /_sandbox/rate_limit": "{count, endpoint}: the next calls are rate limited",
    "POST /_sandbox/lose_response": "{endpoint, count, hang}: act, then drop the answer",
    "POST /_sandbox/tokens/expire": "{token} or {platform, account_id}",
    "GET /_sandbox/accounts": "registered accounts (never tokens)",
    "POST /_sandbox/accounts": "register {platform, account_id, access_tokens, ...}",
    "POST /_sandbox/refresh_tokens": "{open_id, refresh_token}: a valid TikTok refresh token",
    "POST /_sandbox/containers/expire": "{id}: the media container reports EXPIRED",
    "GET /_sandbox/stats": "calls per endpoint, faults fired, responses lost, violations",
    "POST /_sandbox/reset": "forget all state, the ledger and faults; knobs back to start",
}


class ControlError(Exception):
    pass


def _obj(body: Any) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise ControlError("the body must be a JSON object")
    return body


# A sample photo for posts scheduled by hand against the sandbox: the smallest JPEG shape
# (start, JFIF header, end). The stand-ins never fetch or decode media; a URL that answers
# makes the hints of `studio-publish demo` read as a real run does.
SAMPLE_PHOTO = bytes.fromhex("ffd8ffe000104a46494600010100000100010000ffd9")


def handle(sandbox: Sandbox, req: Request, sub: str) -> Response:
    if (req.method, sub.strip("/")) == ("GET", "media/photo.jpg"):
        return Response(200, SAMPLE_PHOTO, {"Content-Type": "image/jpeg"})
    try:
        return Response(200, _dispatch(sandbox, req, sub))
    except KeyError as exc:
        return Response(400, {"error": f"missing field {exc}"})
    except (ControlError, ValueError, TypeError) as exc:
        return Response(400, {"error": str(exc)})


def _dispatch(sb: Sandbox, req: Request, sub: str) -> Any:
    method = req.method
    if req.json_body is None and any(key.lstrip().startswith(("{", "[")) for key in req.params):
        # A JSON body sent as a form (curl -d without a content type): say so, plainly.
        raise ControlError(
            "the body looks like JSON but was not sent as JSON: add the header "
            "Content-Type: application/json (curl -H 'Content-Type: application/json' -d ...)"
        )
    body = req.json_body if req.json_body is not None else (req.params or None)
    key = (method, sub.strip("/"))
    if key in (("GET", ""), ("GET", "help")):
        return {"endpoints": HELP}
    if key == ("GET", "health"):
        bases = {f"{name}_base": base for name, base in sb.bases().items()}
        return {"ok": True, "url": sb.url, **bases}
    if key == ("GET", "ledger"):
        platform, account = req.query.get("platform"), req.query.get("account")
        destination = req.query.get("destination")
        if platform or account or destination:
            entries = sb.ledger.entries(platform, account, destination)
            return {"count": len(entries), "entries": [e.to_dict() for e in entries]}
        return sb.ledger.to_dict()
    if key == ("GET", "ledger/duplicates"):
        dups = sb.ledger.duplicates()
        return {
            "duplicates": [d.to_dict() for d in dups],
            "duplicate_count": sb.ledger.duplicate_count(),
        }
    if key == ("GET", "knobs"):
        return sb.knobs.to_dict()
    if key == ("POST", "knobs"):
        return sb.set_knobs(**_obj(body)).to_dict()
    if key == ("GET", "faults"):
        return {"faults": sb.faults.snapshot()}
    if key == ("POST", "faults"):
        data = _obj(body)
        items = data.get("faults", [data])
        for item in items:
            sb.faults.add(Fault.from_dict(_obj(item)))
        return {"faults": sb.faults.snapshot()}
    if key in (("DELETE", "faults"), ("POST", "faults/clear")):
        sb.faults.clear()
        return {"faults": []}
    if key == ("POST", "rate_limit"):
        data = _obj(body)
        sb.rate_limit(int(data.get("count", 1)), endpoint=str(data.get("endpoint", "*")))
        return {"faults": sb.faults.snapshot()}
    if key == ("POST", "lose_response"):
        data = _obj(body)
        hang = data.get("hang")
        sb.lose_response(
            str(data.get("endpoint", "*")),
            count=int(data.get("count", 1)),
            hang=float(hang) if hang is not None else None,
        )
        return {"faults": sb.faults.snapshot()}
    if key == ("POST", "tokens/expire"):
        data = _obj(body)
        if data.get("token"):
            sb.expire_token(str(data["token"]))
            return {"expired": 1}
        if data.get("platform") and data.get("account_id"):
            return {"expired": sb.expire_account(str(data["platform"]), str(data["account_id"]))}
        raise ControlError("give token, or platform and account_id")
    if key == ("GET", "accounts"):
        return {"accounts": [a.public() for a in sb.accounts.list()]}
    if key == ("POST", "accounts"):
        data = _obj(body)
        items = data.get("accounts", [data])
        specs = [AccountSpec.from_dict(_obj(item)) for item in items]
        for spec in specs:
            sb.accounts.add(spec)
        return {"accounts": [s.public() for s in specs]}
    if key == ("POST", "refresh_tokens"):
        data = _obj(body)
        sb.set_refresh_token(str(data["open_id"]), str(data["refresh_token"]))
        return {"ok": True}
    if key == ("POST", "containers/expire"):
        return {"expired": sb.expire_container(str(_obj(body).get("id", "")))}
    if key == ("GET", "stats"):
        return sb.stats()
    if key == ("POST", "reset"):
        sb.reset()
        return {"ok": True}
    raise ControlError(f"no control endpoint {method} /_sandbox/{sub}; GET /_sandbox/ lists them")
