"""Wallet-pass QR payloads (contract §6)."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from agent.core.passes import sign_pass, verify_pass

CHAIN = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC = CHAIN.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
NOW = 1_800_000_000


def test_a_valid_pass_gives_its_customer() -> None:
    text = sign_pass("c-123", NOW + 3600, CHAIN)
    assert text.startswith("RTL1.c-123.1800003600.") and "=" not in text
    assert verify_pass(text, PUBLIC, NOW) == "c-123"


def test_customer_ids_with_dots() -> None:
    assert verify_pass(sign_pass("shop.fr.c.9", NOW + 60, CHAIN), PUBLIC, NOW) == "shop.fr.c.9"


def test_expired_forged_and_tampered_passes_are_refused() -> None:
    good = sign_pass("c-1", NOW + 60, CHAIN)
    assert verify_pass(sign_pass("c-1", NOW - 1, CHAIN), PUBLIC, NOW) is None  # expired
    assert verify_pass(sign_pass("c-1", NOW, CHAIN), PUBLIC, NOW) is None  # expires now
    forger = Ed25519PrivateKey.generate()
    assert verify_pass(sign_pass("c-1", NOW + 60, forger), PUBLIC, NOW) is None
    assert verify_pass(good.replace("c-1", "c-2"), PUBLIC, NOW) is None
    assert verify_pass(good.replace(str(NOW + 60), str(NOW + 9999)), PUBLIC, NOW) is None
    assert verify_pass(good + "==", PUBLIC, NOW) is None  # padded signature
    assert verify_pass(good.replace("RTL1", "RTL2"), PUBLIC, NOW) is None
    assert verify_pass("RTL1." + "x" * 600, PUBLIC, NOW) is None
    assert verify_pass("https://example.com", PUBLIC, NOW) is None


@given(st.text(max_size=200))
def test_any_text_is_refused_without_raising(text: str) -> None:
    assert verify_pass(text, PUBLIC, NOW) is None
