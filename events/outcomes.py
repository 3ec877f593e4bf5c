"""What dispatch hands a destination's client, and what the client reports back.

Clients (in integration packages) speak HTTP and know their service's answers; the
dispatcher (`events.dispatch`) turns these outcomes into delivery states. Claimed
deliveries travel as plain objects rather than model instances: building thousands of
model instances per batch cost more than sending the batch.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class SendOutcome(StrEnum):
    DELIVERED = "delivered"
    # Refused for good: resending the same event can never succeed.
    REJECTED = "rejected"
    # Worth trying again later (rate limits, server errors, timeouts).
    RETRY = "retry"
    # The destination refused our credentials: pause it, spend no attempt.
    UNAUTHORIZED = "unauthorized"


@dataclass(frozen=True)
class SendResult:
    delivery_id: object
    outcome: SendOutcome
    status_code: int | None = None
    error: str = ""
    response_excerpt: str = ""
    duration_ms: int = 0
    # Seconds the destination asked us to wait (Retry-After), if it said.
    retry_after: float | None = None


@dataclass(slots=True)
class OutgoingPurchase:
    """The purchase fields a destination's event is made of."""

    id: object
    kind: str
    installation_id: object
    # The source installation (shared by every purchase from it in a batch).
    installation: object
    order_id: str
    customer_id: object
    external_customer_id: str
    amount: Decimal
    currency: str
    presentment_amount: Decimal | None
    presentment_currency: str
    occurred_at: datetime
    items: list
    properties: dict


@dataclass(slots=True)
class OutgoingDelivery:
    """A claimed delivery as a client sees it; dispatch also notes its outcome here."""

    id: object
    attempts: int
    insert_id: str
    distinct_id: str | None
    event_time: datetime | None
    purchase: OutgoingPurchase
    # Whether its previous lease ran out (the send it stood for has no result).
    was_lost: bool = False
    state: str = "in_flight"
    last_error: str = ""
    next_attempt_at: datetime | None = None
