"""Customer resync in bulk, and knowing when the broker lost records (docs/sync.md).

Pure: the commands the inbound adapter sends for a batch of customer messages, the manifest
central keeps retained (record count and a digest of every record's version), the digest
itself, and the resync pages central sends when a store asks for them. Nothing here does I/O.

The digest is order-independent and can be kept up to date one record at a time on either
side: each retained record (or tombstone) contributes ``sha256("<id_hash>:<version>")`` read
as a 256-bit big-endian integer, where ``id_hash`` is the lower-case hex SHA-256 of the
customer id (the agent keeps only that hash for tombstones, so the digest never needs an
erased customer's id in clear), and the digest is the sum of the contributions modulo 2**256,
written as 64 lower-case hex digits. A sum rather than XOR: two equal contributions do not
cancel out.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from agent.core.customers import (
    INT64_MAX,
    CustomerMessage,
    MalformedMessage,
    customer_message_from_doc,
    json_object,
)
from agent.core.messages import Command

DIGEST_MODULUS = 2**256
EMPTY_DIGEST = "0" * 64
_DIGEST_PATTERN = re.compile(r"[0-9a-f]{64}")
MANIFEST_MAX_BYTES = 1024
# A resync page carries up to this many records; the agent asks for this many at a time.
PAGE_LIMIT = 250
# 250 records of at most 64 KiB each, plus the envelope.
PAGE_MAX_BYTES = PAGE_LIMIT * 64 * 1024 + 4096
CURSOR_MAX_CHARS = 256


def id_hash(customer_id: str) -> str:
    """The hex SHA-256 of a customer id (also the key of the agent's tombstones)."""
    return hashlib.sha256(customer_id.encode("utf-8")).hexdigest()


def contribution(customer_id_hash: str, version: int) -> int:
    """What one record or tombstone adds to the digest."""
    element = hashlib.sha256(f"{customer_id_hash}:{version}".encode("ascii")).digest()
    return int.from_bytes(element, "big")


def digest_of(records: Iterable[tuple[str, int]]) -> str:
    """The digest of ``(id_hash, version)`` pairs."""
    total = 0
    for key, version in records:
        total += contribution(key, version)
    return f"{total % DIGEST_MODULUS:064x}"


@dataclass(frozen=True, slots=True)
class Manifest:
    """What central keeps retained on the customers topics: how many, and their digest.

    ``digest`` is None for a count-only announcement (the older `{"records": N}` form).
    """

    records: int
    digest: str | None = None


@dataclass(frozen=True, slots=True)
class HeldRecords:
    """The agent's side of the comparison: records and tombstones it holds."""

    records: int
    digest: str

    def matches(self, manifest: Manifest) -> bool:
        if manifest.digest is None:
            return self.records >= manifest.records
        return self.records == manifest.records and self.digest == manifest.digest


def parse_manifest(payload: bytes) -> Manifest:
    """`{"records": N}` or `{"records": N, "digest": "<64 hex>"}` with 0 <= N < 2**63."""
    doc = json_object(payload, MANIFEST_MAX_BYTES, "customer manifest")
    records = doc.get("records")
    if not isinstance(records, int) or isinstance(records, bool):
        raise MalformedMessage("records must be an integer")
    if not 0 <= records <= INT64_MAX:
        raise MalformedMessage("records out of range")
    digest = doc.get("digest")
    if digest is not None and not (isinstance(digest, str) and _DIGEST_PATTERN.fullmatch(digest)):
        raise MalformedMessage("digest must be 64 lower-case hex digits")
    return Manifest(records, digest)


@dataclass(frozen=True, slots=True)
class ResyncPage:
    """One page of central's answer to a resync request."""

    after: str  # the cursor the request named ("" for the first page)
    next: str | None  # the cursor to ask for next; None: this was the last page
    records: tuple[CustomerMessage, ...]
    malformed: int  # records in the page that failed the contract's checks (dropped)


def parse_page(payload: bytes) -> ResyncPage:
    """`{"after": "...", "next": "..." | null, "records": [<customer message>, ...]}`.

    A record that fails the checks is counted and skipped, never the whole page: one poison
    record must not block the records behind it (contract §8.3).
    """
    doc = json_object(payload, PAGE_MAX_BYTES, "resync page")
    after = doc.get("after")
    if not isinstance(after, str) or len(after) > CURSOR_MAX_CHARS:
        raise MalformedMessage("after must be a string of at most 256 characters")
    cursor = doc.get("next")
    if cursor is not None and (not isinstance(cursor, str) or len(cursor) > CURSOR_MAX_CHARS):
        raise MalformedMessage("next must be null or a string of at most 256 characters")
    raw = doc.get("records")
    if not isinstance(raw, list) or len(raw) > PAGE_LIMIT:
        raise MalformedMessage(f"records must be an array of at most {PAGE_LIMIT}")
    records: list[CustomerMessage] = []
    malformed = 0
    for item in raw:
        if not isinstance(item, dict):
            malformed += 1
            continue
        try:
            records.append(customer_message_from_doc(item, str(item.get("customer_id"))))
        except MalformedMessage:
            malformed += 1
    return ResyncPage(after, cursor, tuple(records), malformed)


def page_request(after: str, limit: int = PAGE_LIMIT) -> dict[str, object]:
    """The agent's request for the page after ``after``."""
    return {"after": after, "limit": limit}


@dataclass(frozen=True, slots=True)
class ApplyCustomerBatch(Command):
    """Customer messages drained together from the inbound queue (or one resync page).

    Applied in as few transactions as the unit of work groups them into, as if each message
    had its own savepoint (it gets one only when its batch holds one that fails); the
    handler returns one outcome per message, in order: True (applied),
    False (not newer than what is held) or the exception that message raised.
    """

    messages: tuple[CustomerMessage, ...]


@dataclass(frozen=True, slots=True)
class ReadHeldRecords(Command):
    """Count and digest the records and tombstones the agent holds (returns HeldRecords)."""
