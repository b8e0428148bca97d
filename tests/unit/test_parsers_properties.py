"""Property-based tests for the parsers not covered beside their own module: config files,
resend requests, app check-ins and ticket codes. Whatever comes in, the answer is a value or
the parser's own error, never another exception (and for config, one line per problem)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from agent.config.loader import parse_config
from agent.core.customers import MalformedMessage, parse_checkin
from agent.core.resend import MAX_SPAN, parse_resend_request
from agent.core.ticket_codes import derive_key, ticket_code, ticket_from_code
from agent.errors import ConfigError

SOURCE = Path("/nonexistent/agent.toml")
PROBLEM_LINE = re.compile(r"^/nonexistent/agent\.toml: \S.*: .+$")

toml_scalars = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=30),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
section_names = st.sampled_from(
    ["store", "storage", "http", "mqtt", "queues", "recognition", "occupancy", "devices",
     "opening_hours", "extra"]
)  # fmt: skip


@given(st.dictionaries(section_names, toml_values, max_size=8))
def test_any_config_document_gives_a_config_or_one_line_per_problem(data: dict) -> None:  # type: ignore[type-arg]
    try:
        parse_config(data, source=SOURCE)
    except ConfigError as exc:
        assert exc.problems
        for line in exc.problems:
            assert "\n" not in line and PROBLEM_LINE.match(line), line


VALID = tomllib.loads(
    """
[store]
id = "paris-01"
name = "Rivoli"
timezone = "Europe/Paris"
[storage]
path = "agent.db"
[http]
bind = "127.0.0.1"
port = 8080
public_url = "http://127.0.0.1:8080"
"""
)


@given(st.sampled_from(["store", "storage", "http"]), st.text(max_size=20), toml_values)
def test_one_bad_key_in_a_valid_config_is_named(section: str, key: str, value: object) -> None:
    data = {name: dict(table) for name, table in VALID.items()}
    data[section][key] = value
    try:
        parse_config(data, source=SOURCE)
    except ConfigError as exc:
        assert any(f"{section}." in line or f": {section}:" in line for line in exc.problems)


@given(st.binary(max_size=200))
def test_resend_requests_from_any_bytes(payload: bytes) -> None:
    try:
        request = parse_resend_request(payload)
    except MalformedMessage:
        return
    assert 1 <= request.from_seq <= request.to_seq < request.from_seq + MAX_SPAN


@given(st.integers(-5, 10**12), st.integers(-5, 10**12))
def test_resend_ranges(low: int, high: int) -> None:
    payload = f'{{"from_seq": {low}, "to_seq": {high}}}'.encode()
    ok = 1 <= low <= high and high - low < MAX_SPAN
    try:
        parse_resend_request(payload)
    except MalformedMessage:
        assert not ok
    else:
        assert ok


@given(st.binary(max_size=300))
def test_checkins_from_any_bytes(payload: bytes) -> None:
    try:
        checkin = parse_checkin(payload)
    except MalformedMessage:
        return
    assert checkin.customer_id


KEY = derive_key(b"k" * 32)


@given(st.text(max_size=150))
def test_only_genuine_ticket_codes_name_a_ticket(payload: str) -> None:
    ticket_id = ticket_from_code(KEY, payload)
    if ticket_id is not None:
        assert ticket_code(KEY, ticket_id) == payload


@given(
    st.text(
        alphabet=st.characters(codec="ascii", exclude_categories=["Cc"]), min_size=1, max_size=40
    )
)
def test_ticket_codes_round_trip_and_other_keys_fail(ticket_id: str) -> None:
    code = ticket_code(KEY, ticket_id)
    assert ticket_from_code(KEY, code) == ticket_id
    assert ticket_from_code(derive_key(b"other" * 8), code) is None


def test_a_non_ascii_tag_is_refused_not_raised() -> None:
    # Found by atheris (tests/fuzz): compare_digest raised TypeError on non-ASCII text.
    assert ticket_from_code(KEY, "RE-T1.abc.\u00d8def") is None
