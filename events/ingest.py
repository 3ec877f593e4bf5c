"""What a source hands to `events`: normalised events, and the readers that build them.

Integration packages parse what their platform sends into these types and call one
`events` service. The readers raise `InvalidField` naming the field (as the client
knows it, `a.b`), so every source answers bad input with the same 422.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from uuid import UUID

from accounts.errors import FieldError

from .currencies import ISO_4217

# Purchase.amount is NUMERIC(20, 6): at most 14 digits before the point, 6 after.
AMOUNT_MAX_INTEGER_DIGITS = 14
AMOUNT_MAX_DECIMAL_PLACES = 6
IDENTIFIER_MAX_LENGTH = 255
TEXT_MAX_LENGTH = 500
QUANTITY_MAX = 1_000_000

_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
_SMALLEST_AMOUNT = Decimal(1).scaleb(-AMOUNT_MAX_DECIMAL_PLACES)


@dataclass(frozen=True)
class LineItem:
    sku: str
    name: str
    quantity: int
    price: Decimal

    def as_json(self) -> dict:
        return {
            "sku": self.sku,
            "name": self.name,
            "quantity": self.quantity,
            "price": str(self.price),
        }


@dataclass(frozen=True)
class PurchaseEvent:
    """One purchase, or one refund (its `amount` negative), as a source reported it.

    `dedupe_key` is unique per installation and kind: the order id for Shopify
    purchases, the refund id for refunds, the `event_id` for the API integration.
    A refund names the order it adjusts in `order_id`.
    """

    kind: str
    dedupe_key: str
    amount: Decimal
    currency: str
    occurred_at: datetime
    order_id: str = ""
    event_id: str = ""
    external_customer_id: str = ""
    user_id: UUID | None = None
    presentment_amount: Decimal | None = None
    presentment_currency: str = ""
    status: str = ""
    is_test: bool = False
    items: tuple[LineItem, ...] = ()
    properties: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RawReceipt:
    """The body as it arrived, kept for the retention period; its webhook id dedupes."""

    topic: str
    body: bytes | None
    webhook_id: str | None = None
    order_id: str = ""
    external_customer_id: str = ""


@dataclass(frozen=True)
class OrderStatusChange:
    order_id: str
    status: str


class InvalidField(Exception):
    def __init__(self, field_name: str, message: str):
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message

    def as_field_error(self) -> FieldError:
        return FieldError(self.field, self.message)


class FieldCollector:
    """Reads several fields, keeping every problem instead of stopping at the first."""

    def __init__(self, prefix: str = ""):
        self.prefix = prefix
        self.errors: list[FieldError] = []

    def read(self, reader, *args, **kwargs):
        try:
            return reader(*args, **kwargs)
        except InvalidField as problem:
            name = f"{self.prefix}{problem.field}" if self.prefix else problem.field
            self.errors.append(FieldError(name, problem.message))
            return None


def member(payload: dict, path: str):
    """The value at a dotted path, or None when any step is missing or not an object."""
    value = payload
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def require_object(value, name: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidField(name, "Must be a JSON object.")
    return value


def storable(value: str, name: str) -> str:
    """Text PostgreSQL can hold: no NUL, no lone surrogates (JSON may carry both)."""
    if "\x00" in value:
        raise InvalidField(name, "Must not contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidField(name, "Must be valid Unicode text.") from None
    return value


def identifier(value, name: str, *, required: bool = True) -> str:
    """An id sent as a string or an integer, returned as text."""
    if value is None or value == "":
        if required:
            raise InvalidField(name, "This field is required.")
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidField(name, "Must be a string or an integer.")
    text_value = str(value).strip()
    if not text_value or len(text_value) > IDENTIFIER_MAX_LENGTH:
        raise InvalidField(name, f"Must be 1 to {IDENTIFIER_MAX_LENGTH} characters.")
    if not text_value.isprintable():
        raise InvalidField(name, "Must not contain control characters.")
    return storable(text_value, name)


def text(value, name: str, *, max_length: int = TEXT_MAX_LENGTH) -> str:
    """Optional free text; None reads as empty."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidField(name, "Must be a string.")
    if len(value) > max_length:
        raise InvalidField(name, f"Must be at most {max_length} characters.")
    return storable(value, name)


def decimal_amount(value, name: str) -> Decimal:
    """A decimal given as a string (or a JSON number read as Decimal), finite, in range."""
    if value is None or value == "":
        raise InvalidField(name, "This field is required.")
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise InvalidField(name, "Must be a decimal number written as a string.")
    try:
        amount = Decimal(value.strip() if isinstance(value, str) else value)
    except (InvalidOperation, ValueError):
        raise InvalidField(name, "Must be a decimal number.") from None
    if not amount.is_finite():
        raise InvalidField(name, "Must be a finite decimal number.")
    if abs(amount) >= Decimal(10) ** AMOUNT_MAX_INTEGER_DIGITS:
        raise InvalidField(name, "Too large.")
    if amount != amount.quantize(_SMALLEST_AMOUNT):
        raise InvalidField(name, f"At most {AMOUNT_MAX_DECIMAL_PLACES} decimal places.")
    return amount


def currency_code(value, name: str) -> str:
    if not isinstance(value, str) or not _CURRENCY_RE.match(value) or value not in ISO_4217:
        raise InvalidField(name, "Must be an ISO 4217 currency code, like USD.")
    return value


def aware_datetime(value, name: str) -> datetime:
    """An ISO 8601 time with an offset, returned in UTC."""
    if not isinstance(value, str) or not value:
        raise InvalidField(name, "Must be an ISO 8601 date and time with an offset.")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidField(name, "Must be an ISO 8601 date and time with an offset.") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidField(name, "Must include a UTC offset, like +00:00 or Z.")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidField(name, "Out of range.") from None


def quantity(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidField(name, "Must be a whole number.")
    if not 0 <= value <= QUANTITY_MAX:
        raise InvalidField(name, f"Must be between 0 and {QUANTITY_MAX}.")
    return value


def line_items(value, name: str, collector: FieldCollector) -> tuple[LineItem, ...]:
    """`[{"sku", "name", "quantity", "price"}]`; problems go to `collector`."""
    if value is None:
        return ()
    if not isinstance(value, list):
        collector.errors.append(FieldError(name, "Must be a list."))
        return ()
    items = []
    for index, raw in enumerate(value):
        where = f"{name}.{index}"
        if not isinstance(raw, dict):
            collector.errors.append(FieldError(where, "Must be a JSON object."))
            continue
        before = len(collector.errors)
        sku = collector.read(text, raw.get("sku"), f"{where}.sku")
        label = collector.read(text, raw.get("name"), f"{where}.name")
        count = collector.read(quantity, raw.get("quantity"), f"{where}.quantity")
        price = collector.read(decimal_amount, raw.get("price"), f"{where}.price")
        if len(collector.errors) == before:
            items.append(LineItem(sku=sku, name=label, quantity=count, price=price))
    return tuple(items)
