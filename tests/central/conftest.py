"""Fixtures of the central ingest's tests. PostgreSQL (127.0.0.1:5432) runs on every machine
that runs these tests, CI included: if it is unreachable the tests fail, they do not skip."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.central.support import fresh_database


@pytest.fixture
def pg() -> Iterator[str]:
    with fresh_database() as dsn:
        yield dsn
