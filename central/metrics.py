"""The ingest's Prometheus metrics, in a registry of their own (served by `--metrics-port`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

_COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_AGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass
class IngestMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.events = Counter(
            "central_events_ingested_total", "events written to retail_events", registry=r
        )
        self.messages = Counter(
            "central_messages_total", "broker messages taken (an array is one)", registry=r
        )
        self.duplicates = Counter(
            "central_event_duplicates_total",
            "events received again (same id, same store and seq): not stored twice",
            registry=r,
        )
        self.conflicts = Counter(
            "central_event_conflicts_total",
            "events whose (store, seq) or id is already stored with a different partner: kept "
            "out; must stay 0",
            registry=r,
        )
        self.malformed = Counter(
            "central_malformed_dropped_total",
            "messages or envelopes dropped as unparseable, by reason",
            ["reason"],
            registry=r,
        )
        self.commit_seconds = Histogram(
            "central_db_commit_seconds",
            "one batch: insert and commit in PostgreSQL",
            buckets=_COMMIT_BUCKETS,
            registry=r,
        )
        self.batch_events = Histogram(
            "central_batch_events",
            "events per committed batch",
            buckets=(1, 5, 20, 50, 100, 200, 500, 1000, 2000),
            registry=r,
        )
        self.event_age = Histogram(
            "central_event_age_at_commit_seconds",
            "commit time minus the event's ts (the store's clock): how far behind the table is",
            buckets=_AGE_BUCKETS,
            registry=r,
        )
        self.db_errors = Counter(
            "central_db_errors_total", "batches that failed and were retried", registry=r
        )
        self.broker_reconnects = Counter(
            "central_broker_connects_total",
            "connections made to the broker (MQTT: subscribed)",
            registry=r,
        )
        self.resend_requests = Counter(
            "central_resend_requests_total", "resend requests sent to stores", registry=r
        )
        self.watcher_leader = Gauge(
            "central_gap_watcher_leader",
            "1 while this process holds the gap watcher's lock",
            registry=r,
        )
        self.store_lag = Gauge(
            "central_store_lag_seconds",
            "seconds since the store's last event reached the table",
            ["store"],
            registry=r,
        )
        self.store_holes = Gauge(
            "central_store_open_hole_events",
            "seqs missing below the store's highest one, not announced as lost",
            ["store"],
            registry=r,
        )
        self.store_losses = Gauge(
            "central_store_known_loss_events",
            "seqs the store announced as gone (outbox.dropped)",
            ["store"],
            registry=r,
        )
        self.store_contiguous = Gauge(
            "central_store_contiguous_seq",
            "highest contiguous seq per store",
            ["store"],
            registry=r,
        )

    def serve(self, port: int, addr: str = "127.0.0.1") -> None:
        start_http_server(port, addr=addr, registry=self.registry)
