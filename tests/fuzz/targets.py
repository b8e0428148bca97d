"""Coverage-guided fuzz targets (atheris) for the byte-level parsers, and one (`inbound`) for
the inbound MQTT topics from payload to database.

Each target feeds arbitrary bytes to one parser and lets only that parser's own "malformed"
error through; anything else (an IndexError, a UnicodeError, a crash) is a finding. Run one:

    python -m tests.fuzz.targets bttomqtt -max_total_time=60

`tests/fuzz/test_fuzz.py` runs every target for a few seconds in CI and for a minute each
with `pytest --long`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

NAMES = (
    "bttomqtt", "eid_frame", "customer", "checkin", "resend", "qr_payload", "inbound",
    "appointments", "mqtt_wire",
)  # fmt: skip


def load_target(name: str) -> Callable[[bytes], None]:
    """Import what the target `name` runs (inside atheris' instrumentation when fuzzing) and
    wrap it. Only that target is built: `inbound` and `mqtt_wire` import most of the agent
    (services, store, web, adapters), and instrumenting those modules cost every run ~2.4 s
    of start-up, while a parser target never executes them (no coverage from them)."""
    if name in PARSERS:
        return parser_targets()[name]
    return {"inbound": inbound_target, "mqtt_wire": mqtt_wire_target}[name]()


# The targets that call a parser of agent.core (cheap to import), built together.
PARSERS = tuple(name for name in NAMES if name not in {"inbound", "mqtt_wire"})


def parser_targets() -> dict[str, Callable[[bytes], None]]:
    from agent.core.appointments import parse_appointment_day
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
        # Issue 14's retained day list of appointments (docs/sync.md).
        "appointments": malformed_ok(lambda data: parse_appointment_day(data, "2026-12-01")),
    }
    assert tuple(targets) == PARSERS
    return targets


def mqtt_wire_target() -> Callable[[bytes], None]:
    """What a broker sends the BLE scanners' subscriber (agent/adapters/mqtt_subscriber.py).
    Any bytes from a broker, cut in two where the first byte says: whatever they are, the
    subscriber neither raises nor keeps more than its bound."""
    import asyncio

    from agent.adapters.mqtt_subscriber import MAX_PACKET_BYTES, _Wire

    class Transport:
        def abort(self) -> None:
            return None

    loop = asyncio.new_event_loop()

    async def wire() -> _Wire:
        return _Wire(16)  # its futures need a running loop

    def target(data: bytes) -> None:
        subscriber = loop.run_until_complete(wire())
        subscriber.connection_made(Transport())  # type: ignore[arg-type]
        cut = 1 + (data[0] if data else 0)
        subscriber.data_received(data[1:cut])
        subscriber.data_received(data[cut:])
        assert len(subscriber.pending) <= 16
        assert len(subscriber._rest) <= MAX_PACKET_BYTES + 5

    return target


def inbound_target() -> Callable[[bytes], None]:
    """One message on `customers/+`, `checkins` or `resend`, through the adapter into the real
    services on a real SQLite file (tests/fuzz/inbound.py checks the invariants).

    Half the inputs are raw bytes; half are the contract's message for that topic with a few
    values replaced by fuzzed ones (huge integers, floats, wrong types, deep nesting), which
    gets past the parser into the handlers, where issue 12 found its crash.
    """
    import atheris

    from tests.fuzz.inbound import EDGE_INTS, KEYS, TOPICS, InboundRig, encode, nested, template

    rig: list[InboundRig] = []  # built on the first input: the other targets never pay for it

    def value(fdp: atheris.FuzzedDataProvider, depth: int = 0) -> object:
        makers: list[Callable[[], object]] = [
            lambda: fdp.PickValueInList(list(EDGE_INTS)),
            lambda: fdp.ConsumeInt(fdp.ConsumeIntInRange(1, 70)),  # up to 2**560
            fdp.ConsumeRegularFloat,
            lambda: fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 40)),
            fdp.ConsumeBool,
            lambda: None,
            lambda: nested(fdp.ConsumeIntInRange(1, 30_000)),  # past the recursion limit
            lambda: [value(fdp, depth + 1) for _ in range(fdp.ConsumeIntInRange(0, 4))],
            lambda: {fdp.PickValueInList(list(KEYS)): value(fdp, depth + 1) for _ in range(3)},
        ]
        last = len(makers) - 1 if depth < 3 else 6  # containers only a few levels deep
        return makers[fdp.ConsumeIntInRange(0, last)]()

    def mutate(doc: dict[str, object], fdp: atheris.FuzzedDataProvider) -> None:
        for _ in range(fdp.ConsumeIntInRange(0, 4)):
            target = doc
            while fdp.ConsumeBool():  # walk into a nested object (consent, credentials, eid)
                children = [v for v in target.values() if isinstance(v, dict)]
                if not children:
                    break
                target = fdp.PickValueInList(children)
            key = fdp.PickValueInList([*target, *KEYS])
            if fdp.ConsumeIntInRange(0, 4) == 0:
                target.pop(key, None)
            else:
                target[key] = value(fdp)

    def inbound(data: bytes) -> None:
        if not rig:
            rig.append(InboundRig(check_every=200))
        fdp = atheris.FuzzedDataProvider(data)
        kind = TOPICS[fdp.ConsumeIntInRange(0, 2)]
        customer_id = f"c-{fdp.ConsumeIntInRange(1, 4):05d}"
        if fdp.ConsumeIntInRange(0, 7) == 0:  # any topic level a broker can deliver
            text = fdp.ConsumeUnicodeNoSurrogates(40).translate({47: None, 43: None, 35: None})
            customer_id = text or customer_id
        if fdp.ConsumeBool():
            payload = fdp.ConsumeBytes(fdp.remaining_bytes())
        else:
            doc = template(kind, customer_id, fdp.ConsumeIntInRange(1, 60))
            mutate(doc, fdp)
            payload = encode(doc)
        rig[0].feed(kind, payload, customer_id)

    return inbound


def main() -> None:
    import atheris

    name, *libfuzzer_args = sys.argv[1:]
    # Only the agent's own modules are instrumented: instrumenting everything (stdlib,
    # cryptography) costs ~15 s of start-up and adds no useful coverage signal.
    with atheris.instrument_imports(include=["agent"]):
        target = load_target(name)
    atheris.Setup([sys.argv[0], *libfuzzer_args], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
