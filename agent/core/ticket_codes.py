"""The QR code on a customer's ticket page, which a counter camera reads to check them in.

`RE-T1.{ticket_id}.{tag}` where tag is a truncated HMAC-SHA256 of the ticket id under a key
only this device holds. The ticket id alone is not enough (it appears in URLs); the tag makes
a code unforgeable without the page, and it carries no personal data.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

PREFIX = "RE-T1."
_TAG_BYTES = 12


def ticket_code(key: bytes, ticket_id: str) -> str:
    return f"{PREFIX}{ticket_id}.{_tag(key, ticket_id)}"


def ticket_from_code(key: bytes, payload: str) -> str | None:
    """The ticket id of a genuine code, or None (not a ticket code, or a forged one)."""
    if not payload.startswith(PREFIX) or len(payload) > 128:
        return None
    ticket_id, dot, tag = payload[len(PREFIX) :].rpartition(".")
    if not dot or not ticket_id:
        return None
    # As bytes: compare_digest refuses non-ASCII str, and a camera can read any text
    # (found by the atheris target in tests/fuzz).
    if not hmac.compare_digest(tag.encode("utf-8"), _tag(key, ticket_id).encode("ascii")):
        return None
    return ticket_id


def derive_key(window_secret: bytes) -> bytes:
    """A key of its own, so a ticket code can never be mistaken for a window token."""
    return hmac.new(window_secret, b"retail-edge ticket codes v1", hashlib.sha256).digest()


def _tag(key: bytes, ticket_id: str) -> str:
    mac = hmac.new(key, ticket_id.encode("utf-8"), hashlib.sha256).digest()[:_TAG_BYTES]
    return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")
