"""Wire events of the moment of arrival (contract 8.8) and of what staff record at the counter
(extension, docs/suggestions.md). Same shape as `agent.core.events`; kept apart so each
module stays small. Ids, kinds and the documented fields only: never a suggestion's wording.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from agent.core.events import DomainEvent, JsonValue

OUTCOMES = ("offered", "accepted", "declined")


@dataclass(frozen=True, slots=True)
class _KindsOnAlert(DomainEvent):
    """What a shown and a withheld suggestion say alike: which alert, whose, which kinds."""

    alert_id: str
    customer_id: str
    kinds: tuple[str, ...]

    def data(self) -> dict[str, JsonValue]:
        return {
            "alert_id": self.alert_id,
            "customer_id": self.customer_id,
            "kinds": list(self.kinds),
        }


@dataclass(frozen=True, slots=True)
class SuggestionShown(_KindsOnAlert):
    """Contract 8.8: these kinds were on the arrival alert staff saw."""

    type: ClassVar[str] = "suggestion.shown"


@dataclass(frozen=True, slots=True)
class SuggestionWithheld(_KindsOnAlert):
    """Contract 8.8: a campaign's holdout group: these kinds would have been shown."""

    type: ClassVar[str] = "suggestion.withheld"


@dataclass(frozen=True, slots=True)
class SuggestionOutcome(DomainEvent):
    """Contract 8.8: staff marked a suggestion offered, accepted or declined."""

    type: ClassVar[str] = "suggestion.outcome"
    alert_id: str
    customer_id: str
    kind: str
    offer_id: str | None
    outcome: str  # one of OUTCOMES


@dataclass(frozen=True, slots=True)
class CustomerPreference(DomainEvent):
    """Extension: a preference staff recorded at the counter for a customer who consented
    to staff seeing their profile (the note's twin, `customer.note`)."""

    type: ClassVar[str] = "customer.preference"
    customer_id: str
    preference: str
    by: str
