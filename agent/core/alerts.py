"""The arrival alert a staff tablet shows (contract §3 `arrival` event), as a typed value.

Built from the stored alert and the consenting customer's record, both when the alert is
raised and when a tablet opens its stream later, so the two carry the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agent.core.customers import CustomerRecord
from agent.core.events import JsonValue
from agent.core.profile_facts import without_expired_offers


@dataclass(frozen=True, slots=True)
class ArrivalAlert:
    alert_id: str
    customer_id: str
    display_name: str
    via: str
    at: str  # RFC 3339, UTC
    # Only with the customer's staff-profile consent: their profile plus visit history.
    profile: dict[str, JsonValue] | None = None
    # Contract 8.8: what staff should do now, most important first (empty without consent).
    suggestions: tuple[dict[str, JsonValue], ...] = ()

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
        suggestions: tuple[dict[str, JsonValue], ...] = (),
        now: datetime | None = None,
    ) -> ArrivalAlert:
        profile: dict[str, JsonValue] | None = None
        if not record.consent_staff_profile:
            suggestions = ()
        else:
            moment = now or datetime.fromisoformat(at.replace("Z", "+00:00"))
            profile = without_expired_offers(record.profile, moment) | {
                "visits": visits,
                "last_visit": last_visit,
            }
        return cls(alert_id, record.customer_id, record.display_name, via, at, profile, suggestions)

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
        data["suggestions"] = [dict(s) for s in self.suggestions]
        return data
