"""A purchase sent to the API integration, read into `events`' normalised type.

Fields (ARCHITECTURE.md): `event_id`, optional `order_id`, `user_id` or
`external_user_id`, `amount` (a decimal string), `currency` (ISO 4217), `occurred_at`
(ISO 8601 with an offset), optional `items` and `properties` (a flat object passed on
to destinations). Anything else is refused, so a misspelt field is not lost quietly.
"""

import math
from decimal import Decimal
from uuid import UUID

from accounts.errors import FieldError
from events.ingest import (
    FieldCollector,
    InvalidField,
    PurchaseEvent,
    aware_datetime,
    currency_code,
    decimal_amount,
    identifier,
    line_items,
    storable,
    text,
)
from events.models import PurchaseKind

FIELDS = frozenset(
    {
        "event_id",
        "order_id",
        "user_id",
        "external_user_id",
        "amount",
        "currency",
        "occurred_at",
        "items",
        "properties",
    }
)
PROPERTIES_MAX = 100
PROPERTY_NAME_MAX_LENGTH = 255
PROPERTY_TEXT_MAX_LENGTH = 1000
# Names the destination event already uses, or reserves for itself.
RESERVED_PROPERTIES = frozenset(
    {
        "token",
        "distinct_id",
        "time",
        "ip",
        "amount",
        "currency",
        "presentment_amount",
        "presentment_currency",
        "order_id",
        "source",
        "installation_id",
        "items",
    }
)
RESERVED_PREFIXES = ("$", "mp_")


def _user_id(value, name: str) -> UUID:
    if not isinstance(value, str):
        raise InvalidField(name, "Must be a user's id (a UUID).")
    try:
        return UUID(value)
    except ValueError:
        raise InvalidField(name, "Must be a user's id (a UUID).") from None


def _property_value(value, name: str):
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, Decimal | float):
        number = float(value)
        if not math.isfinite(number):
            raise InvalidField(name, "Must be a finite number.")
        return number
    if isinstance(value, str):
        return text(value, name, max_length=PROPERTY_TEXT_MAX_LENGTH)
    raise InvalidField(name, "Must be a string, number, boolean or null (properties are flat).")


def _properties(value, collector: FieldCollector) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        collector.errors.append(FieldError("properties", "Must be a JSON object."))
        return {}
    if len(value) > PROPERTIES_MAX:
        collector.errors.append(FieldError("properties", f"At most {PROPERTIES_MAX} properties."))
        return {}
    properties = {}
    for key, raw in value.items():
        where = f"properties.{key}"
        if not key or len(key) > PROPERTY_NAME_MAX_LENGTH:
            collector.errors.append(
                FieldError(where, f"Names are 1 to {PROPERTY_NAME_MAX_LENGTH} characters.")
            )
        elif key in RESERVED_PROPERTIES or key.startswith(RESERVED_PREFIXES):
            collector.errors.append(FieldError(where, "This name is reserved."))
        elif collector.read(storable, key, where) is not None:
            properties[key] = collector.read(_property_value, raw, where)
    return properties


def parse_purchase(payload) -> tuple[PurchaseEvent | None, list[FieldError]]:
    """The event, or None and every problem found (fields named as the client sent them)."""
    if not isinstance(payload, dict):
        return None, [FieldError("body", "A purchase must be a JSON object.")]
    collector = FieldCollector()
    for unknown in sorted(set(payload) - FIELDS):
        collector.errors.append(FieldError(unknown, "Not a field of a purchase."))
    event_id = collector.read(identifier, payload.get("event_id"), "event_id")
    order_id = collector.read(identifier, payload.get("order_id"), "order_id", required=False)
    user_id = None
    if payload.get("user_id") is not None:
        user_id = collector.read(_user_id, payload["user_id"], "user_id")
    external_user_id = collector.read(
        identifier, payload.get("external_user_id"), "external_user_id", required=False
    )
    if payload.get("user_id") is not None and external_user_id:
        collector.errors.append(
            FieldError("external_user_id", "Give either user_id or external_user_id, not both.")
        )
    amount = collector.read(decimal_amount, payload.get("amount"), "amount")
    currency = collector.read(currency_code, payload.get("currency"), "currency")
    occurred_at = collector.read(aware_datetime, payload.get("occurred_at"), "occurred_at")
    items = line_items(payload.get("items"), "items", collector)
    properties = _properties(payload.get("properties"), collector)
    if collector.errors:
        return None, collector.errors

    return (
        PurchaseEvent(
            kind=PurchaseKind.PURCHASE,
            dedupe_key=event_id,
            event_id=event_id,
            order_id=order_id or "",
            user_id=user_id,
            external_customer_id=external_user_id or "",
            amount=amount,
            currency=currency,
            presentment_amount=amount,
            presentment_currency=currency,
            occurred_at=occurred_at,
            items=items,
            properties=properties,
        ),
        [],
    )
