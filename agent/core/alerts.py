"""The arrival alert a staff tablet shows (contract §3 `arrival` event), as a typed value.

Built from the stored alert and the consenting customer's record, both when the alert is
raised and when a tablet opens its stream later, so the two carry the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.core.customers import CustomerRecord
from agent.core.events import JsonValue


@dataclass(frozen=True, slots=True)
class ArrivalAlert:
    alert_id: str
    customer_id: str
    display_name: str
    via: str
    at: str  # RFC 3339, UTC
    # Only with the customer's staff-profile consent: their profile plus visit history.
    profile: dict[str, JsonValue] | None = None

    @classmethod
    def of(
        cls,
        record: CustomerRecord,
        *,
        alert_id: str,
        via: str,
        at: str,
        visits: int,
        last_visit: str | None,
    ) -> ArrivalAlert:
        profile: dict[str, JsonValue] | None = None
        if record.consent_staff_profile:
            profile = dict(record.profile) | {"visits": visits, "last_visit": last_visit}
        return cls(alert_id, record.customer_id, record.display_name, via, at, profile)

    def as_json(self) -> dict[str, JsonValue]:
        data: dict[str, JsonValue] = {
            "alert_id": self.alert_id,
            "customer_id": self.customer_id,
            "display_name": self.display_name,
            "via": self.via,
            "at": self.at,
        }
        if self.profile is not None:
            data["profile"] = dict(self.profile)
        return data
