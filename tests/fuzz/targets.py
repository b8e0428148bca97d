"""Coverage-guided fuzz targets (atheris) for the byte-level parsers.

Each target feeds arbitrary bytes to one parser and lets only that parser's own "malformed"
error through; anything else (an IndexError, a UnicodeError, a crash) is a finding. Run one:

    python -m tests.fuzz.targets bttomqtt -max_total_time=60

`tests/fuzz/test_fuzz.py` runs every target for a few seconds in CI and for a minute each
with `pytest --long`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

NAMES = ("bttomqtt", "eid_frame", "customer", "checkin", "resend", "qr_payload")


def load_targets() -> dict[str, Callable[[bytes], None]]:
    """Import the parsers (inside atheris' instrumentation when fuzzing) and wrap each."""
    from agent.core.bttomqtt import MalformedAdvertisement, parse_bttomqtt
    from agent.core.customers import MalformedMessage, parse_checkin, parse_customer_message
    from agent.core.eddystone import parse_eid_frame
    from agent.core.passes import verify_pass
    from agent.core.resend import parse_resend_request
    from agent.core.ticket_codes import derive_key, ticket_from_code

    pass_key = bytes(range(32))
    ticket_key = derive_key(b"fuzz" * 8)

    def bttomqtt(data: bytes) -> None:
        try:
            advertisement = parse_bttomqtt(data)
        except MalformedAdvertisement:
            return
        if advertisement is not None:
            parse_eid_frame(advertisement.service_data)

    def malformed_ok(parse: Callable[[bytes], object]) -> Callable[[bytes], None]:
        def target(data: bytes) -> None:
            try:
                parse(data)
            except MalformedMessage:
                return

        return target

    def eid_frame(data: bytes) -> None:
        parse_eid_frame(data)

    def qr_payload(data: bytes) -> None:
        # What a camera hands over: any text. A pass check and a ticket-code check.
        text = data.decode("utf-8", errors="replace")
        verify_pass(text, pass_key, 1_800_000_000)
        ticket_from_code(ticket_key, text)

    targets: dict[str, Callable[[bytes], None]] = {
        "bttomqtt": bttomqtt,
        "eid_frame": eid_frame,
        "customer": malformed_ok(lambda data: parse_customer_message(data, "c-00001")),
        "checkin": malformed_ok(parse_checkin),
        "resend": malformed_ok(parse_resend_request),
        "qr_payload": qr_payload,
    }
    assert tuple(targets) == NAMES
    return targets


def main() -> None:
    import atheris

    name, *libfuzzer_args = sys.argv[1:]
    # Only the agent's own modules are instrumented: instrumenting everything (stdlib,
    # cryptography) costs ~15 s of start-up and adds no useful coverage signal.
    with atheris.instrument_imports(include=["agent"]):
        target = load_targets()[name]
    atheris.Setup([sys.argv[0], *libfuzzer_args], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
