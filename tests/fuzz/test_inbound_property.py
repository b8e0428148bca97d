"""Property: any message on `customers/+`, `checkins` or `resend`, through the inbound adapter
into the real services on a real SQLite file, is applied or counted as dropped, never raises,
and leaves the database consistent (tests/fuzz/inbound.py states the invariants).

200 examples in CI, 5 000 with `--long`. The atheris target `inbound` (tests/fuzz/targets.py)
covers the same path guided by coverage; this one needs no atheris and is reproducible.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.inbound import EDGE_INTS, KEYS, TOPICS, InboundRig, encode, nested, template

IDS = st.sampled_from([f"c-{n:05d}" for n in range(1, 5)]) | st.text(
    st.characters(blacklist_characters="/+#", blacklist_categories=("Cs",)), min_size=1
)
INTS = st.sampled_from(EDGE_INTS) | st.integers()
SCALARS = st.none() | st.booleans() | INTS | st.floats() | st.text(max_size=20)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(KEYS), inner),
    max_leaves=12,
)


@st.composite
def messages(draw: st.DrawFn) -> tuple[str, bytes, str]:
    kind = draw(st.sampled_from(TOPICS))
    customer_id = draw(IDS)
    shape = draw(st.sampled_from(["bytes", "json", "contract"]))
    if shape == "bytes":
        return kind, draw(st.binary(max_size=200)), customer_id
    if shape == "json":
        return kind, json.dumps(draw(JSON)).encode(), customer_id
    # The contract's message with some values replaced: reaches the handlers.
    doc = template(kind, customer_id, draw(st.integers(1, 60)))
    for key in draw(st.lists(st.sampled_from(KEYS), max_size=3)):
        target = doc
        if key in ("recognition", "staff_profile") and isinstance(doc.get("consent"), dict):
            target = doc["consent"]  # type: ignore[assignment]
        target[key] = draw(JSON | st.integers(1, 30_000).map(nested))
    return kind, encode(doc), customer_id


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InboundRig]:
    instance = InboundRig(Path(tmp_path_factory.mktemp("inbound")))
    try:
        yield instance
    finally:
        instance.close()


def test_any_inbound_message_is_applied_or_counted_and_the_database_stays_consistent(
    request: pytest.FixtureRequest, rig: InboundRig
) -> None:
    examples = 5_000 if request.config.getoption("--long") else 200

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(messages())
    def feed(message: tuple[str, bytes, str]) -> None:
        kind, payload, customer_id = message
        rig.feed(kind, payload, customer_id)

    feed()
    rig.check_database()
    assert rig.fed >= examples
