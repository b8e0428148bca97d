from agent.core.clock import rfc3339
from agent.core.events import FootfallCounted, PrivacyErased, QueueServed
from agent.sync.topics import Topics


def test_event_data_uses_contract_field_names() -> None:
    event = FootfallCounted(door="main", in_=3, out=2, from_="a", to="b")
    assert event.type == "footfall.counted"
    assert event.data() == {"door": "main", "in": 3, "out": 2, "from": "a", "to": "b"}
    served = QueueServed(queue="advice", ticket_id="t1", number=4, wait_s=60.0, service_s=120.0)
    assert served.data() == {
        "queue": "advice",
        "ticket_id": "t1",
        "number": 4,
        "wait_s": 60.0,
        "service_s": 120.0,
    }
    assert PrivacyErased("c-1", 3).data() == {"customer_id": "c-1", "records_deleted": 3}


def test_topics_follow_the_contract() -> None:
    topics = Topics("retail/v1", "paris-01")
    assert topics.status == "retail/v1/stores/paris-01/status"
    assert topics.events == "retail/v1/stores/paris-01/events"
    assert topics.occupancy == "retail/v1/stores/paris-01/occupancy"
    assert topics.checkins == "retail/v1/stores/paris-01/checkins"
    assert topics.customers_filter == "retail/v1/chain/customers/+"
    assert topics.customer_id("retail/v1/chain/customers/c-123") == "c-123"
    assert topics.customer_id("retail/v1/chain/customers/") is None
    assert topics.customer_id("retail/v1/chain/customers/a/b") is None
    assert topics.customer_id("other/chain/customers/c-1") is None


def test_timestamps_are_rfc3339_utc_with_z() -> None:
    from datetime import datetime, timedelta, timezone

    moment = datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert rfc3339(moment) == "2026-03-01T09:00:00.123Z"
