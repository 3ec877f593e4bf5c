"""Shopify webhook payloads read into `events`' normalised types.

Written against the REST webhook payloads (orders, refunds, compliance topics) of the
API version in `integration.API_VERSION`. Each reader raises the 422 of
`accounts.errors.validation_error`, naming every field it could not use.
"""

from dataclasses import dataclass
from decimal import Decimal

from accounts.errors import validation_error
from events.ingest import (
    FieldCollector,
    InvalidField,
    LineItem,
    OrderStatusChange,
    PurchaseEvent,
    aware_datetime,
    currency_code,
    decimal_amount,
    identifier,
    line_items,
    member,
    text,
)
from events.models import PurchaseKind

CANCELLED = "cancelled"


@dataclass(frozen=True)
class Cancellation:
    status_change: OrderStatusChange
    refunds: list[PurchaseEvent]
    is_test: bool
    external_customer_id: str


@dataclass(frozen=True)
class CustomerRequest:
    """What a compliance topic names: a shopper (and their orders), or the whole shop."""

    external_customer_id: str
    order_ids: list[str]
    request_id: str


def _fail_on(collector: FieldCollector, detail: str) -> None:
    if collector.errors:
        raise validation_error(detail, collector.errors)


def _when(payload: dict, collector: FieldCollector, prefix: str = ""):
    """When it happened: `processed_at`, else `created_at`, in UTC."""
    if payload.get("processed_at"):
        return collector.read(aware_datetime, payload["processed_at"], f"{prefix}processed_at")
    return collector.read(aware_datetime, payload.get("created_at"), f"{prefix}created_at")


def _customer_id(payload: dict, collector: FieldCollector) -> str:
    customer = payload.get("customer")
    if customer is None:
        return ""
    if not isinstance(customer, dict):
        collector.errors.append(InvalidField("customer", "Must be an object.").as_field_error())
        return ""
    return collector.read(identifier, customer.get("id"), "customer.id", required=False) or ""


def _money(payload: dict, path: str, collector: FieldCollector):
    amount = collector.read(decimal_amount, member(payload, f"{path}.amount"), f"{path}.amount")
    currency = collector.read(
        currency_code, member(payload, f"{path}.currency_code"), f"{path}.currency_code"
    )
    return amount, currency


def _order_items(raw_items, collector: FieldCollector) -> tuple[LineItem, ...]:
    if not isinstance(raw_items, list):
        return line_items(raw_items, "line_items", collector)
    shaped = [
        {
            "sku": item.get("sku") or "",
            "name": item.get("name") or item.get("title") or "",
            "quantity": item.get("quantity"),
            "price": item.get("price"),
        }
        if isinstance(item, dict)
        else item
        for item in raw_items
    ]
    return line_items(shaped, "line_items", collector)


def parse_order(payload: dict, *, event_id: str = "") -> PurchaseEvent:
    """A purchase of `total_price_set.shop_money` (tax and shipping included), whatever
    the order's financial status; its presentment money beside it."""
    collector = FieldCollector()
    order_id = collector.read(identifier, payload.get("id"), "id")
    occurred_at = _when(payload, collector)
    if isinstance(payload.get("total_price_set"), dict):
        amount, currency = _money(payload, "total_price_set.shop_money", collector)
        shown_amount, shown_currency = (None, "")
        if isinstance(member(payload, "total_price_set.presentment_money"), dict):
            shown_amount, shown_currency = _money(
                payload, "total_price_set.presentment_money", collector
            )
    else:
        # Older payloads: the shop-currency total and the order's currency.
        amount = collector.read(decimal_amount, payload.get("total_price"), "total_price_set")
        currency = collector.read(currency_code, payload.get("currency"), "currency")
        shown_amount, shown_currency = (None, "")
    external_customer_id = _customer_id(payload, collector)
    items = _order_items(payload.get("line_items"), collector)
    financial_status = collector.read(text, payload.get("financial_status"), "financial_status")
    name = collector.read(text, payload.get("name"), "name")
    _fail_on(collector, "The order could not be read.")

    return PurchaseEvent(
        kind=PurchaseKind.PURCHASE,
        dedupe_key=order_id,
        order_id=order_id,
        event_id=event_id,
        amount=amount,
        currency=currency,
        presentment_amount=shown_amount,
        presentment_currency=shown_currency or "",
        occurred_at=occurred_at,
        external_customer_id=external_customer_id,
        status=CANCELLED if payload.get("cancelled_at") else (financial_status or "")[:32],
        is_test=payload.get("test") is True,
        items=items,
        properties={"order_name": name} if name else {},
    )


def parse_refund(
    payload: dict, *, prefix: str = "", event_id: str = "", order_id: str = ""
) -> PurchaseEvent | None:
    """A refund as an adjustment: minus the sum of its successful refund transactions.

    None when no money went back (a refund that only restocks, or whose transactions
    all failed): there is no revenue to adjust.
    """
    collector = FieldCollector()
    refund_id = collector.read(identifier, payload.get("id"), f"{prefix}id")
    order_id = order_id or collector.read(identifier, payload.get("order_id"), f"{prefix}order_id")
    occurred_at = _when(payload, collector, prefix)
    total, currency, is_test = Decimal(0), None, False
    transactions = payload.get("transactions") or []
    if not isinstance(transactions, list):
        collector.errors.append(
            InvalidField(f"{prefix}transactions", "Must be a list.").as_field_error()
        )
        transactions = []
    for index, transaction in enumerate(transactions):
        where = f"{prefix}transactions.{index}"
        if not isinstance(transaction, dict):
            collector.errors.append(InvalidField(where, "Must be an object.").as_field_error())
            continue
        is_test = is_test or transaction.get("test") is True
        if transaction.get("kind") != "refund" or transaction.get("status") != "success":
            continue
        amount = collector.read(decimal_amount, transaction.get("amount"), f"{where}.amount")
        paid_in = collector.read(currency_code, transaction.get("currency"), f"{where}.currency")
        if currency is not None and paid_in is not None and paid_in != currency:
            collector.errors.append(
                InvalidField(
                    f"{where}.currency", "Refund transactions differ in currency."
                ).as_field_error()
            )
        currency = currency or paid_in
        total += amount or 0
    items = _refund_items(payload.get("refund_line_items"), collector, prefix)
    _fail_on(collector, "The refund could not be read.")

    if total == 0 or currency is None:
        return None
    return PurchaseEvent(
        kind=PurchaseKind.REFUND,
        dedupe_key=refund_id,
        order_id=order_id,
        event_id=event_id,
        amount=-total,
        currency=currency,
        presentment_amount=-total,
        presentment_currency=currency,
        occurred_at=occurred_at,
        status="refunded",
        is_test=is_test,
        items=items,
    )


def _refund_items(raw_items, collector: FieldCollector, prefix: str) -> tuple[LineItem, ...]:
    if not isinstance(raw_items, list):
        return ()
    shaped = []
    for entry in raw_items:
        item = entry.get("line_item") if isinstance(entry, dict) else None
        if not isinstance(item, dict):
            continue
        shaped.append(
            {
                "sku": item.get("sku") or "",
                "name": item.get("name") or item.get("title") or "",
                "quantity": entry.get("quantity"),
                "price": item.get("price"),
            }
        )
    return line_items(shaped, f"{prefix}refund_line_items", collector)


def parse_cancellation(payload: dict, *, event_id: str = "") -> Cancellation:
    """The order's new status, and the refunds the cancellation carried.

    Shopify signs the body, not the topic: an order that was not cancelled (no
    `cancelled_at`), sent again under this topic, is refused (422) and changes nothing.
    """
    if not payload.get("cancelled_at"):
        raise validation_error(
            "The webhook body does not fit its topic.",
            [
                InvalidField(
                    "cancelled_at", "A cancelled order has its cancellation time."
                ).as_field_error()
            ],
        )
    collector = FieldCollector()
    order_id = collector.read(identifier, payload.get("id"), "id")
    external_customer_id = _customer_id(payload, collector)
    _fail_on(collector, "The order could not be read.")

    raw_refunds = payload.get("refunds") or []
    if not isinstance(raw_refunds, list):
        raise validation_error(
            "The order could not be read.",
            [InvalidField("refunds", "Must be a list.").as_field_error()],
        )
    refunds = []
    for index, raw in enumerate(raw_refunds):
        if not isinstance(raw, dict):
            raise validation_error(
                "The order could not be read.",
                [InvalidField(f"refunds.{index}", "Must be an object.").as_field_error()],
            )
        refund = parse_refund(raw, prefix=f"refunds.{index}.", event_id=event_id, order_id=order_id)
        if refund is not None:
            refunds.append(refund)
    return Cancellation(
        status_change=OrderStatusChange(order_id=order_id, status=CANCELLED),
        refunds=refunds,
        is_test=payload.get("test") is True,
        external_customer_id=external_customer_id,
    )


def parse_customer_request(payload: dict, *, whole_shop: bool) -> CustomerRequest:
    """`customers/data_request` and `customers/redact` name a shopper; `shop/redact`
    names only the shop."""
    collector = FieldCollector()
    if whole_shop:
        return CustomerRequest(external_customer_id="", order_ids=[], request_id="")
    customer_id = collector.read(identifier, member(payload, "customer.id"), "customer.id")
    orders = payload.get("orders_requested", payload.get("orders_to_redact")) or []
    if not isinstance(orders, list):
        orders = None
        collector.errors.append(InvalidField("orders", "Must be a list.").as_field_error())
    order_ids = [
        collector.read(identifier, value, f"orders.{index}")
        for index, value in enumerate(orders or [])
    ]
    request_id = collector.read(
        identifier, member(payload, "data_request.id"), "data_request.id", required=False
    )
    _fail_on(collector, "The request could not be read.")
    return CustomerRequest(
        external_customer_id=customer_id, order_ids=order_ids, request_id=request_id or ""
    )
