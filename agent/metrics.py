"""Prometheus metrics, one registry per agent instance (no module-level singletons)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.outbox_depth = Gauge(
            "retail_edge_outbox_depth",
            "Events waiting for the broker's acknowledgement",
            registry=r,
        )
        self.outbox_oldest_age = Gauge(
            "retail_edge_outbox_oldest_age_seconds", "Age of the oldest unsent event", registry=r
        )
        self.outbox_dropped = Counter(
            "retail_edge_outbox_dropped_events",
            "Events dropped by the offline retention policy",
            ["reason"],
            registry=r,
        )
        self.events_published = Counter(
            "retail_edge_events_published", "Events acknowledged by the broker", registry=r
        )
        self.events_resent = Counter(
            "retail_edge_events_resent",
            "Delivered events put back in the outbox by a central resend request",
            registry=r,
        )
        self.outbox_acks_unrecorded = Gauge(
            "retail_edge_outbox_acks_unrecorded",
            "Events the broker acknowledged that could not be recorded yet (disk full): held in"
            " memory, not sent again",
            registry=r,
        )
        self.outbox_drain_paused = Gauge(
            "retail_edge_outbox_drain_paused",
            "1 while no new events are sent because too many acknowledgements wait to be recorded",
            registry=r,
        )
        self.mqtt_connected = Gauge(
            "retail_edge_mqtt_connected", "1 while connected to the broker", registry=r
        )
        self.mqtt_connects = Counter(
            "retail_edge_mqtt_connects", "Successful broker connections", registry=r
        )
        self.mqtt_connect_failures = Counter(
            "retail_edge_mqtt_connect_failures", "Failed or lost broker connections", registry=r
        )
        self.mqtt_publish_refused = Counter(
            "retail_edge_mqtt_publish_refused",
            "Event publishes the broker refused (MQTT 5 failure reason code, e.g. an ACL)",
            registry=r,
        )
        self.mqtt_inflight = Gauge(
            "retail_edge_mqtt_inflight_messages", "Publishes awaiting PUBACK", registry=r
        )
        self.mqtt_inflight_peak = Gauge(
            "retail_edge_mqtt_inflight_peak", "Highest in-flight count since start", registry=r
        )
        self.bus_handler_failures = Counter(
            "retail_edge_bus_handler_failures",
            "Message-bus handlers that raised (logged; the committed change stands)",
            ["event", "handler"],
            registry=r,
        )
        self.malformed_dropped = Counter(
            "retail_edge_malformed_inputs_dropped",
            "Malformed inputs dropped (MQTT payloads, radio frames, ...)",
            ["source"],
            registry=r,
        )
        self.inbound_applied = Counter(
            "retail_edge_inbound_messages",
            "Inbound messages by outcome",
            ["topic", "outcome"],
            registry=r,
        )
        self.customer_records = Gauge(
            "retail_edge_customer_records", "Consented customer records held", registry=r
        )
        self.push_sent = Counter(
            "retail_edge_push_sent",
            "Web Push messages a push service accepted",
            ["kind"],
            registry=r,
        )
        self.push_failed = Counter(
            "retail_edge_push_failed",
            "Web Push attempts that failed, by reason (some are retried)",
            ["reason"],
            registry=r,
        )
        self.push_given_up = Counter(
            "retail_edge_push_given_up",
            "Web Push messages given up (ticket ended, retry budget spent, queue full, ...)",
            ["reason"],
            registry=r,
        )
        self.push_subscriptions_refused = Counter(
            "retail_edge_push_subscriptions_refused",
            "Push subscriptions refused (endpoint not allowed, malformed keys)",
            ["reason"],
            registry=r,
        )
        self.push_latency = Histogram(
            "retail_edge_push_request_seconds",
            "Time from the event to the push service's answer, first attempt",
            ["kind"],
            registry=r,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
        )
        self.customer_records_announced = Gauge(
            "retail_edge_customer_records_announced",
            "Customer topics the central side says it keeps retained (extension topic"
            " {p}/chain/customer_count)",
            registry=r,
        )
        self.customer_messages_received = Gauge(
            "retail_edge_customer_messages_received",
            "Customer messages received since the last (re)subscription (the retained replay"
            " plus live updates)",
            registry=r,
        )
        self.customer_records_behind = Gauge(
            "retail_edge_customer_records_behind",
            "Announced customer topics minus customer messages received since the last"
            " subscription, at least 0: retained records the broker did not deliver",
            registry=r,
        )
        self.http_requests = Histogram(
            "retail_edge_http_request_seconds",
            "HTTP request latency",
            ["route", "status"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        self.joins = Counter("retail_edge_queue_joins", "Tickets issued", ["queue"], registry=r)
        self.joins_refused = Counter(
            "retail_edge_queue_joins_refused",
            "Joins refused, by reason (window_token, closed, full, rate_limited)",
            ["queue", "reason"],
            registry=r,
        )
        self.queue_waiting = Gauge(
            "retail_edge_queue_waiting", "People waiting", ["queue"], registry=r
        )
        self.wait_abs_error = Gauge(
            "retail_edge_queue_wait_estimate_abs_error_seconds",
            "Mean absolute error of the wait shown at join vs the actual wait until called "
            "(last 200 called tickets)",
            ["queue"],
            registry=r,
        )
        self.wait_underestimates = Gauge(
            "retail_edge_queue_wait_underestimate_ratio",
            "Share of called tickets that waited longer than the high end of their range",
            ["queue"],
            registry=r,
        )
        self.recognition_customers = Gauge(
            "retail_edge_recognition_customers",
            "Customers who consent to recognition (resolvable now)",
            registry=r,
        )
        self.readings_resolved = Counter(
            "retail_edge_readings_resolved",
            "Readings that identified a consenting customer",
            ["kind"],
            registry=r,
        )
        self.readings_dropped = Counter(
            "retail_edge_readings_dropped",
            "Readings dropped in memory: unknown EID, card or pass, stale check-in (only counted)",
            ["kind"],
            registry=r,
        )
        self.ble_advertisements = Counter(
            "retail_edge_ble_advertisements",
            "BLE advertisements a scanner delivered, by outcome: eid (to recognition), "
            "not_eddystone / not_eid (ignored), malformed, queue_full (agent saturated)",
            ["source", "outcome"],
            registry=r,
        )
        self.ticket_checkins = Counter(
            "retail_edge_ticket_checkins",
            "Queue tickets checked in at the door (ticket QR, or the holder recognised)",
            ["via"],
            registry=r,
        )
        self.arrivals = Counter(
            "retail_edge_arrivals", "Staff arrival alerts sent", ["via"], registry=r
        )
        # Issue 15: per kind only, never per customer.
        self.suggestions = Counter(
            "retail_edge_suggestions",
            "Arrival alerts that carried a suggestion kind, shown or withheld (holdout)",
            ["kind", "group"],
            registry=r,
        )
        self.suggestion_outcomes = Counter(
            "retail_edge_suggestion_outcomes",
            "Suggestion outcomes staff recorded",
            ["kind", "outcome"],
            registry=r,
        )
        self.address_cache_size = Gauge(
            "retail_edge_ble_address_cache_size",
            "BLE addresses remembered (bounded LRU)",
            registry=r,
        )
        self.scanner_restarts = Counter(
            "retail_edge_scanner_restarts",
            "Device sources restarted (watchdog or failure)",
            ["source", "reason"],
            registry=r,
        )
        self.footfall = Counter(
            "retail_edge_footfall_people",
            "People counted by door sensors",
            ["door", "direction"],
            registry=r,
        )
        self.occupancy = Gauge("retail_edge_occupancy", "People inside the store now", registry=r)
        self.http_connections_closed = Counter(
            "retail_edge_http_connections_closed",
            "Connections the agent closed: headers too slow, too many from one address",
            ["reason"],
            registry=r,
        )
        self.storage_errors = Counter(
            "retail_edge_storage_errors", "Database writes that failed", registry=r
        )
        self.tickets_printed = Counter(
            "retail_edge_tickets_printed",
            "Paper tickets: result printed, or why not (unreachable, timeout, queue_full, error)",
            ["result"],
            registry=r,
        )
        self._add_resync_metrics(r)

    def _add_resync_metrics(self, r: CollectorRegistry) -> None:
        """The inbound queue's and the customer resync's (docs/sync.md)."""
        self.inbound_queue_depth = Gauge(
            "retail_edge_mqtt_inbound_queue_depth",
            "Inbound MQTT messages acknowledged and waiting for their handler",
            registry=r,
        )
        self.inbound_queue_peak = Gauge(
            "retail_edge_mqtt_inbound_queue_peak",
            "Highest inbound queue depth since start",
            registry=r,
        )
        self.inbound_queue_full = Counter(
            "retail_edge_mqtt_inbound_queue_full",
            "Times the inbound queue was full, so the agent stopped acknowledging and the"
            " broker held further messages (backpressure, nothing dropped)",
            registry=r,
        )
        self.customer_manifest_match = Gauge(
            "retail_edge_customer_manifest_match",
            "1 if the records held matched central's manifest (count and digest) at the last"
            " check, 0 if not",
            registry=r,
        )
        self.customer_records_missing = Gauge(
            "retail_edge_customer_records_missing",
            "At the last manifest check: records central announced minus records held, at least 0",
            registry=r,
        )
        self.customer_records_recovered = Counter(
            "retail_edge_customer_records_recovered",
            "Customer records the broker had not delivered, applied from resync pages",
            registry=r,
        )
        self.customer_resyncs = Counter(
            "retail_edge_customer_resyncs",
            "Resync page passes asked for after a manifest mismatch",
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
