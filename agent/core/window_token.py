"""Window tokens: proof that a customer stood in front of the shop window recently.

A rotating token changes every period (60 s) and the previous one stays valid, so a photo of
the window screen stops working within two minutes; a static token (printed sticker) is valid
until its generation is bumped. Tokens are HMACs under a per-device secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

ROTATION_PERIOD_S = 60
# A join page opened from a fresh code gets a form token good this many periods, so filling
# in the form slowly is fine while a photo of the window still stops working within minutes.
FORM_TOKEN_PERIODS = 15


def _mac(secret: bytes, message: str) -> str:
    digest = hmac.new(secret, message.encode("utf-8"), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode("ascii")


class WindowTokens:
    def __init__(self, secret: bytes, period_s: int = ROTATION_PERIOD_S) -> None:
        if len(secret) < 16:
            raise ValueError("window token secret must be at least 16 bytes")
        self._secret = secret
        self._period = period_s

    def rotating(self, queue: str, unix_time: float) -> str:
        period = int(unix_time // self._period)
        return f"r{period}.{_mac(self._secret, f'r|{queue}|{period}')}"

    def static(self, queue: str, generation: int) -> str:
        return f"s{generation}.{_mac(self._secret, f's|{queue}|{generation}')}"

    def form(self, queue: str, unix_time: float) -> str:
        """Issued by the join page after it checked the scanned code (mode-independent)."""
        period = int(unix_time // self._period)
        return f"f{period}.{_mac(self._secret, f'f|{queue}|{period}')}"

    def verify(
        self, queue: str, token: str, *, unix_time: float, mode: str, generation: int
    ) -> bool:
        """Valid for this queue, in its mode: rotating (this or the previous period, or the
        next one for a window screen whose clock runs a little ahead) or static (current
        generation)."""
        kind, _, rest = token.partition(".")
        if not rest or len(token) > 64 or not kind[1:].isdigit():
            return False
        number = int(kind[1:])
        if kind.startswith("f"):
            current = int(unix_time // self._period)
            return current - FORM_TOKEN_PERIODS <= number <= current and hmac.compare_digest(
                token, self.form(queue, number * self._period)
            )
        if kind.startswith("r") and mode == "rotating":
            current = int(unix_time // self._period)
            return number in (current - 1, current, current + 1) and hmac.compare_digest(
                token, self.rotating(queue, number * self._period)
            )
        if kind.startswith("s") and mode == "static":
            return number == generation and hmac.compare_digest(
                token, self.static(queue, generation)
            )
        return False
