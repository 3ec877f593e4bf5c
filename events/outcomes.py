"""What a destination's client reports for each delivery it was asked to send.

Clients (in integration packages) speak HTTP and know their service's answers; the
dispatcher (`events.dispatch`) turns these outcomes into delivery states.
"""

from dataclasses import dataclass
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
