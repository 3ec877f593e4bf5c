"""`/api/v1/purchases`: stored purchases and adjustments with their delivery states."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from ninja import Field, Query, Schema
from pydantic import AfterValidator

from accounts.api_auth import OAuth2Bearer
from config.api import error_responses
from events.selectors.purchases import purchase_list, purchase_page

from . import router

READ = OAuth2Bearer(scopes=["purchases:read"])

PAGE_MAX = 100
PAGE_DEFAULT = 50
# Beyond this an offset only ever finds nothing; the bound keeps it a valid SQL bigint.
OFFSET_MAX = 1_000_000_000


def amount_text(amount: Decimal | None) -> str | None:
    """The stored amount without the column's padding, keeping at least two places."""
    if amount is None:
        return None
    text = format(amount, "f")
    if "." in text:
        whole, fraction = text.split(".")
        fraction = fraction.rstrip("0").ljust(2, "0")
        text = f"{whole}.{fraction}"
    return text


def _no_nul(value: str | None) -> str | None:
    # PostgreSQL text cannot hold NUL: such a filter is refused, not sent to the database.
    if value is not None and "\x00" in value:
        raise ValueError("Must not contain NUL characters.")
    return value


def _in_utc(value: datetime | None) -> datetime | None:
    # PostgreSQL refuses offsets beyond ±15:59 (a 500 otherwise); in UTC any offset works.
    if value is None:
        return None
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:
        raise ValueError("Out of the supported range of dates.") from None


class PurchaseFilters(Schema):
    installation_id: UUID | None = None
    user_id: UUID | None = None
    order_id: Annotated[str | None, AfterValidator(_no_nul)] = Field(None, max_length=255)
    kind: Literal["purchase", "refund"] | None = None
    occurred_after: Annotated[datetime | None, AfterValidator(_in_utc)] = Field(
        None, description="Inclusive, ISO 8601."
    )
    occurred_before: Annotated[datetime | None, AfterValidator(_in_utc)] = Field(
        None, description="Exclusive, ISO 8601."
    )
    limit: int = Field(PAGE_DEFAULT, ge=1, description=f"At most {PAGE_MAX}; more is clamped.")
    offset: int = Field(0, ge=0, le=OFFSET_MAX)


class DeliveryOut(Schema):
    installation_id: UUID = Field(alias="destination_id")
    state: str
    attempts: int
    last_error: str


class PurchaseOut(Schema):
    id: UUID
    installation_id: UUID
    kind: str
    order_id: str
    event_id: str
    user_id: UUID | None = Field(alias="customer_id")
    amount: str
    currency: str
    occurred_at: datetime
    status: str
    deliveries: list[DeliveryOut]

    @staticmethod
    def resolve_amount(purchase) -> str:
        return amount_text(purchase.amount)

    @staticmethod
    def resolve_deliveries(purchase) -> list:
        return list(purchase.deliveries.all())


class PurchasePage(Schema):
    items: list[PurchaseOut]
    count: int


@router.get(
    "/purchases",
    auth=READ,
    response={200: PurchasePage, **error_responses(403)},
    tags=["purchases"],
    summary="List purchases",
)
def purchase_list_view(request, filters: Query[PurchaseFilters]):
    """Purchases and refunds, newest first, with the state of each delivery.

    Filter by `installation_id`, `user_id`, `order_id`, `kind` and the time the order
    happened (`occurred_after` inclusive, `occurred_before` exclusive). `limit` above
    100 is clamped to 100.
    """
    queryset = purchase_list(
        installation_id=filters.installation_id,
        user_id=filters.user_id,
        order_id=filters.order_id,
        kind=filters.kind,
        occurred_after=filters.occurred_after,
        occurred_before=filters.occurred_before,
    )
    items, count = purchase_page(
        queryset, limit=min(filters.limit, PAGE_MAX), offset=filters.offset
    )
    return {"items": items, "count": count}
