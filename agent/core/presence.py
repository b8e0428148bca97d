"""Who is in the store: arrivals and departures from noisy sightings (pure; times passed in).

RSSI is smoothed per reader with an exponential moving average; a customer's signal is the
best smoothed value among readers that heard them recently, so a `bleak` radio and two ESP32
proxies at one entrance make one arrival, not three. Arrival needs the signal above the door
threshold for a while (a passer-by on the pavement is not a visit); departure is absence for
a while (inside the store the signal fades, so a weak signal is not a departure: that gap
between the two rules is the hysteresis). An NFC tap, a pass at the camera or an app check-in
is an arrival at once. Alerts for staff are rate-limited per customer by a cooldown.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class PresenceSettings:
    door_rssi_dbm: int = -75
    arrive_after_s: float = 2.0  # signal above the threshold this long = at the door
    leave_after_s: float = 120.0  # no sighting this long = left
    untracked_visit_s: float = 2700.0  # visits seen only by tap/scan/app end after this
    alert_cooldown_s: float = 1800.0  # no second staff alert for a customer within this
    smoothing: float = 0.3  # EMA weight of a new RSSI sample
    reader_stale_s: float = 10.0  # a reader's smoothed value counts only this long


@dataclass(frozen=True, slots=True)
class Arrived:
    customer_id: str
    visit_id: str
    via: str  # "ble" | "nfc" | "qr" | "app"
    at: float
    alert: bool  # False inside the alert cooldown (a customer walking back past the door)


@dataclass(frozen=True, slots=True)
class Left:
    customer_id: str
    visit_id: str
    dwell_s: float
    at: float


@dataclass(frozen=True, slots=True)
class Recognised:
    """A deliberate identification while already present (a tap at the counter): staff see
    the profile again, but it is the same visit."""

    customer_id: str
    visit_id: str
    via: str
    at: float


Change = Arrived | Left | Recognised


@dataclass(slots=True)
class _Customer:
    smoothed: dict[str, tuple[float, float]] = field(default_factory=dict)  # reader -> (rssi, at)
    above_since: float | None = None
    visit_id: str | None = None
    arrived_at: float = 0.0
    last_seen: float = 0.0
    tracked: bool = False  # the visit is kept alive by BLE sightings
    last_alert: float | None = None


class Presence:
    def __init__(self, settings: PresenceSettings) -> None:
        self.settings = settings
        self._customers: dict[str, _Customer] = {}

    def __len__(self) -> int:
        return len(self._customers)

    def present(self) -> list[str]:
        return [cid for cid, c in self._customers.items() if c.visit_id is not None]

    def sighting(self, customer_id: str, reader: str, rssi: int, at: float) -> list[Change]:
        s = self.settings
        c = self._customers.setdefault(customer_id, _Customer())
        previous = c.smoothed.get(reader)
        if previous is None or at - previous[1] > s.reader_stale_s:
            value = float(rssi)
        else:
            value = previous[0] + s.smoothing * (rssi - previous[0])
        c.smoothed[reader] = (value, at)
        if c.visit_id is not None:
            # Most sightings are of customers already inside (phones advertise all visit
            # long): settle them before the strongest-reader scan, which only arrivals need
            # (the profile in benchmarks/PROFILE.md showed that scan on every sighting).
            c.last_seen = at
            c.tracked = True
            return []
        best = max(v for v, seen in c.smoothed.values() if at - seen <= s.reader_stale_s)
        if best < s.door_rssi_dbm:
            c.above_since = None
            return []
        if c.above_since is None:
            c.above_since = at
        if at - c.above_since < s.arrive_after_s:
            return []
        return [self._arrive(customer_id, c, "ble", at, tracked=True)]

    def identified(self, customer_id: str, via: str, at: float) -> list[Change]:
        """A tap, a pass or an app check-in: certain, so no dwell-time rule."""
        c = self._customers.setdefault(customer_id, _Customer())
        if c.visit_id is not None:
            c.last_seen = max(c.last_seen, at)
            return [Recognised(customer_id, c.visit_id, via, at)]
        return [self._arrive(customer_id, c, via, at, tracked=False)]

    def tick(self, at: float) -> list[Change]:
        """Departures of customers not seen for long enough; forgets idle state."""
        s = self.settings
        changes: list[Change] = []
        for customer_id, c in list(self._customers.items()):
            if c.visit_id is not None:
                limit = s.leave_after_s if c.tracked else s.untracked_visit_s
                if at - c.last_seen >= limit:
                    changes.append(Left(customer_id, c.visit_id, c.last_seen - c.arrived_at, at))
                    c.visit_id = None
                    c.above_since = None
                    c.smoothed.clear()
            elif c.above_since is not None and at - c.above_since > s.reader_stale_s:
                c.above_since = None
            for reader, (_, seen) in list(c.smoothed.items()):
                if at - seen > s.reader_stale_s:
                    del c.smoothed[reader]
            if (
                c.visit_id is None
                and not c.smoothed
                and (c.last_alert is None or at - c.last_alert > s.alert_cooldown_s)
            ):
                del self._customers[customer_id]  # nothing left worth remembering
        return changes

    def forget(self, customer_id: str) -> str | None:
        """Consent withdrawn: drop every trace now; returns the open visit id, if any."""
        state = self._customers.pop(customer_id, None)
        return None if state is None else state.visit_id

    def _arrive(
        self, customer_id: str, c: _Customer, via: str, at: float, *, tracked: bool
    ) -> Arrived:
        c.visit_id = uuid.uuid4().hex
        c.arrived_at = at
        c.last_seen = at
        c.tracked = tracked
        c.above_since = None
        alert = c.last_alert is None or at - c.last_alert >= self.settings.alert_cooldown_s
        if alert:
            c.last_alert = at
        return Arrived(customer_id, c.visit_id, via, at, alert)
