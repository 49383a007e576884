"""Redaction (studio_publish.redaction): a secret goes, in whatever form it is echoed back."""

from __future__ import annotations

import base64
import html
import json
import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_httpx import HTTPXMock
from support.engine import Conn, add_account, add_post, attempts, engine_settings, post, target

from studio_publish import operations
from studio_publish.engine import attempt
from studio_publish.logs import configure_logging
from studio_publish.platforms import transport
from studio_publish.platforms.facebook.client import FacebookPlatform
from studio_publish.redaction import REDACTED, redact

SECRET = "fb_PAGE_TOKEN"


def every_char_percent(text: str, *, upper: bool = True) -> str:
    hex_format = "%{:02X}" if upper else "%{:02x}"
    return "".join(hex_format.format(byte) for byte in text.encode())


def json_every_char(text: str) -> str:
    return "".join(f"\\u{ord(char):04x}" for char in text)


ENCODED_FORMS = [
    pytest.param(SECRET, id="verbatim"),
    pytest.param("fb%5FPAGE%5FTOKEN", id="some-chars-percent-upper"),
    pytest.param("fb%5fPAGE%5fTOKEN", id="some-chars-percent-lower"),
    pytest.param("f%62_P%41GE_TOKEN", id="letters-percent"),
    pytest.param(every_char_percent(SECRET), id="every-char-percent-upper"),
    pytest.param(every_char_percent(SECRET, upper=False), id="every-char-percent-lower"),
    pytest.param("fb%255FPAGE%255FTOKEN", id="percent-twice"),
    pytest.param("fb\\u005fPAGE\\u005FTOKEN", id="json-unicode-escape"),
    pytest.param(json_every_char(SECRET), id="json-every-char"),
    pytest.param("fb\\x5fPAGE\\x5FTOKEN", id="python-hex-escape"),
    pytest.param("fb&#95;PAGE&#095;TOKEN", id="html-decimal"),
    pytest.param("fb&#x5f;PAGE&#X5F;TOKEN", id="html-hex"),
    pytest.param("fb&#95PAGE&#x5fTOKEN", id="html-without-semicolon"),
    pytest.param("fb%5F&#80;AGE\\u005fT%4fKEN", id="mixed"),
    pytest.param(base64.b64encode(SECRET.encode()).decode(), id="base64"),
    pytest.param(base64.b64encode(SECRET.encode()).decode().rstrip("="), id="base64-unpadded"),
    pytest.param(base64.urlsafe_b64encode(SECRET.encode()).decode(), id="base64-urlsafe"),
    pytest.param(quote(base64.b64encode(SECRET.encode()).decode(), safe=""), id="base64-quoted"),
]


@pytest.mark.parametrize("encoded", ENCODED_FORMS)
def test_each_encoded_form_is_redacted(encoded: str) -> None:
    result = redact(f"Invalid OAuth access token: {encoded}.", [SECRET])
    assert result == f"Invalid OAuth access token: {REDACTED}."


SPACED = 'my s3cret/tök"en&<x>'

SPACED_FORMS = [
    pytest.param(quote_plus(SPACED), id="form-encoded-plus"),
    pytest.param(quote(SPACED, safe=""), id="percent-utf8"),
    pytest.param(json.dumps(SPACED)[1:-1], id="json-ascii"),
    pytest.param(json.dumps(SPACED, ensure_ascii=False)[1:-1], id="json-utf8"),
    pytest.param(html.escape(SPACED), id="html-escape"),
    pytest.param(repr(SPACED.encode())[2:-1], id="bytes-repr"),
    pytest.param(ascii(SPACED)[1:-1], id="python-ascii"),
    pytest.param(SPACED.replace(" ", "+"), id="plus-for-space"),
    pytest.param(SPACED.replace("/", "\\/"), id="json-escaped-slash"),
    pytest.param(base64.b64encode(SPACED.encode()).decode(), id="base64"),
    pytest.param(base64.urlsafe_b64encode(SPACED.encode()).decode(), id="base64-urlsafe"),
]


@pytest.mark.parametrize("encoded", SPACED_FORMS)
def test_spaces_punctuation_and_non_ascii_in_every_form(encoded: str) -> None:
    assert redact(f"<{encoded}>", [SPACED]) == f"<{REDACTED}>"


def test_astral_characters_as_a_json_surrogate_pair() -> None:
    secret = "tok😀en-1"
    assert redact(json.dumps({"t": secret}), [secret]) == json.dumps({"t": REDACTED})


def test_short_empty_and_missing_secrets_are_ignored() -> None:
    text = "abc is short, so is a None"
    assert redact(text, ["abc", "", None]) == text
    assert redact("", [SECRET]) == ""


def test_only_the_secret_goes_and_case_matters() -> None:
    assert redact("FB_PAGE_TOKEN fb_PAGE_TOKEN fb_page_token", [SECRET]) == (
        f"FB_PAGE_TOKEN {REDACTED} fb_page_token"
    )


def test_several_secrets_the_longest_first() -> None:
    text = "token=abcd-1234 refresh=abcd-1234-extra"
    result = redact(text, ["abcd-1234", "abcd-1234-extra"])
    assert result == f"token={REDACTED} refresh={REDACTED}"


def test_the_replacement_never_spells_the_secret_again() -> None:
    # "[redacted]" followed by "x" would read "ted]x" again: another replacement is used.
    for secret, text in [("ted]x", "ted]xx"), (REDACTED, f"a {REDACTED} b")]:
        result = redact(text, [secret])
        assert secret not in result and result != text


def test_a_custom_replacement_is_taken_literally() -> None:
    assert redact("at https://h/x1y2z3", ["https://h/x1y2z3"], replacement=r"\1 [url]") == (
        r"at \1 [url]"
    )


def test_transport_and_attempt_delegate_with_their_signatures() -> None:
    echoed = "Error: fb%5FPAGE%5FTOKEN and refresh%2Dtoken%2D9"
    expected = f"Error: {REDACTED} and {REDACTED}"
    assert transport.redact(echoed, SECRET, None, "refresh-token-9") == expected
    assert attempt.redact(echoed, [SECRET, None, "refresh-token-9"]) == expected


# --- the property ---------------------------------------------------------------------------


def lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), text)


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


ENCODERS: dict[str, Callable[[str], str]] = {
    "identity": lambda s: s,
    "quote-upper": lambda s: quote(s, safe=""),  # quote() writes upper-case hex
    "quote-lower": lambda s: lower_hex(quote(s, safe="")),
    "quote-every-char": lambda s: every_char_percent(s),
    "quote-every-char-lower": lambda s: every_char_percent(s, upper=False),
    "json": lambda s: json.dumps(s)[1:-1],
    "base64": b64,
    "base64-urlsafe": lambda s: base64.urlsafe_b64encode(s.encode()).decode(),
}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    secret=st.text(min_size=4, max_size=40),
    prefix=st.text(max_size=20),
    suffix=st.text(max_size=20),
    encoder=st.sampled_from(sorted(ENCODERS)),
)
def test_no_encoding_of_a_secret_survives(
    secret: str, prefix: str, suffix: str, encoder: str
) -> None:
    result = redact(prefix + ENCODERS[encoder](secret) + suffix, [secret])
    assert secret not in result
    for percent_encoded in (quote(secret, safe=""), lower_hex(quote(secret, safe=""))):
        assert percent_encoded not in result


@settings(max_examples=100, deadline=None)
@given(secret=st.text(alphabet=st.characters(codec="ascii"), min_size=4, max_size=30))
def test_every_char_percent_encoded_in_any_case(secret: str) -> None:
    encoded = every_char_percent(secret)
    mixed = "".join(c.lower() if i % 2 else c for i, c in enumerate(encoded))
    assert secret not in redact(f"x{mixed}y", [secret])
    assert redact(f"x{mixed}y", [secret]).count(REDACTED) >= 1


# --- through the engine ---------------------------------------------------------------------

PAGE_TOKEN = "EAAB_page_TOKEN_7q3w9z"
GRAPH = "https://graph.test/v25.0"
WEBHOOK = "https://alerts.test/hook"
TRACES = ["7q3w9z", "page_TOKEN", "page%5FTOKEN", "page%5fTOKEN", "EAAB_"]


def echoing_token(request: httpx.Request) -> httpx.Response:
    """Meta's error envelope, quoting the token back URL-encoded (as it was in a URL)."""
    if request.url.host == "alerts.test":
        return httpx.Response(204)
    encoded = PAGE_TOKEN.replace("_", "%5F")
    message = (
        f"Error validating access token: the session for access_token={encoded} is invalid "
        f"(also seen as {every_char_percent(PAGE_TOKEN, upper=False)})"
    )
    error = {
        "message": message,
        "type": "OAuthException",
        "code": 190,
        "error_subcode": 460,
        "fbtrace_id": "AbCdEf",
    }
    return httpx.Response(400, json={"error": error})


def test_a_graph_error_echoing_the_token_encoded_leaves_no_trace(
    db_url: str,
    conn: Conn,
    httpx_mock: HTTPXMock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    httpx_mock.add_callback(echoing_token, is_reusable=True)
    account_id = add_account(conn, "facebook", token=PAGE_TOKEN)
    post_id = add_post(conn, account_id, platform="facebook")
    settings = engine_settings(graph_api_base=GRAPH, alert_webhook_url=WEBHOOK)
    configure_logging("json", level=logging.DEBUG)

    summary = operations.run_due(
        settings, target(db_url), platforms={"facebook": FacebookPlatform(settings)}
    )

    assert [r.outcome for r in summary.results] == ["reauth"]
    row = post(conn, post_id)
    assert REDACTED in row["last_publish_error"]
    history = attempts(conn, post_id)
    assert history and all(REDACTED in (a["error_message"] or "") for a in history)
    account = conn.execute(
        "SELECT state, state_reason FROM studio_social_accounts WHERE id = %s", [account_id]
    ).fetchone()
    assert account and account["state"] == "needs_reauth"
    assert REDACTED in account["state_reason"]
    alerts = conn.execute("SELECT payload FROM studio_publish_alerts").fetchall()
    assert alerts and any(REDACTED in json.dumps(a["payload"]) for a in alerts)
    sent = [r for r in httpx_mock.get_requests() if r.url.host == "alerts.test"]
    assert sent
    captured = capsys.readouterr()
    everything: list[Any] = [
        row,
        history,
        account,
        alerts,
        [r.content for r in sent],
        summary.as_dict(),
        captured.out,
        captured.err,
    ]
    dump = (
        str(everything)
        + conn.execute(
            "SELECT string_agg(t::text, ' ') AS all FROM ("
            "  SELECT p::text AS t FROM studio_social_posts p"
            "  UNION ALL SELECT a::text FROM studio_publish_attempts a"
            "  UNION ALL SELECT s.state_reason FROM studio_social_accounts s"
            "  UNION ALL SELECT al::text FROM studio_publish_alerts al) x"
        ).fetchone()["all"]
    )  # type: ignore[index]
    for trace in TRACES:
        assert trace not in dump, trace
    assert every_char_percent(PAGE_TOKEN, upper=False) not in dump
