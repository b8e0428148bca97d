"""Loyalty-pass QR codes (contract §6): `RTL1.<customer_id>.<expires_unix>.<signature>`.

The signature is the unpadded base64url Ed25519 signature, by the chain's key, of the UTF-8
bytes `RTL1.<customer_id>.<expires_unix>`. Customer ids may contain dots, so the payload is
split from the right: the last field is the signature, the one before it the expiry.
Anything that is not a well-formed, correctly signed, unexpired pass gives None.
"""

from __future__ import annotations

import base64
import binascii
import re

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from agent.core.customers import CUSTOMER_ID_PATTERN

PREFIX = "RTL1."
MAX_LENGTH = 512
_SIGNATURE = re.compile(r"[A-Za-z0-9_-]{86}")  # 64 bytes, unpadded base64url
_EXPIRY = re.compile(r"[0-9]{1,12}")


def verify_pass(text: str, public_key: bytes, now_unix: float) -> str | None:
    """The customer id of a valid, unexpired pass signed by ``public_key``; else None."""
    if len(text) > MAX_LENGTH or not text.startswith(PREFIX):
        return None
    signed, _, signature = text.rpartition(".")
    body, _, expires = signed.rpartition(".")
    customer_id = body[len(PREFIX) :]
    if not (
        _SIGNATURE.fullmatch(signature)
        and _EXPIRY.fullmatch(expires)
        and CUSTOMER_ID_PATTERN.fullmatch(customer_id)
    ):
        return None
    if int(expires) <= now_unix:
        return None
    try:
        raw = base64.urlsafe_b64decode(signature + "==")
        Ed25519PublicKey.from_public_bytes(public_key).verify(raw, signed.encode("utf-8"))
    except (InvalidSignature, ValueError, binascii.Error):
        return None
    return customer_id


def sign_pass(customer_id: str, expires_unix: int, private_key: Ed25519PrivateKey) -> str:
    """What the chain's wallet-pass service issues (simulators and tests)."""
    signed = f"{PREFIX}{customer_id}.{expires_unix}"
    signature = private_key.sign(signed.encode("utf-8"))
    return f"{signed}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode('ascii')}"
