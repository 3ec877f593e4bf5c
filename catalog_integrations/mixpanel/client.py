"""Sending deliveries to Mixpanel's `/import` endpoint.

One request carries at most `MAX_EVENTS_PER_REQUEST` events and `MAX_BODY_BYTES` of
JSON before gzip. Mixpanel's answers become one `SendResult` per delivery:

- 2xx: delivered;
- 400 listing `failed_records` (keyed `$insert_id` or `insert_id`): those rejected for
  good with Mixpanel's reason, the rest delivered (Mixpanel imported them);
- 401/403: credentials refused (the dispatcher pauses the installation);
- 413: the batch is split in halves and each half sent again; one event alone that is
  still too large is rejected;
- 429, 5xx, other answers, timeouts and connection errors: retry later.
"""

import gzip
import json
import logging
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

import httpx

from events.models import PurchaseKind
from events.outcomes import OutgoingDelivery, SendOutcome, SendResult

from .settings import mixpanel_auth, mixpanel_endpoint, mixpanel_project_token

logger = logging.getLogger(__name__)

# Mixpanel's documented limits for one /import request.
MAX_EVENTS_PER_REQUEST = 2000
MAX_BODY_BYTES = 2 * 1024 * 1024
# Mixpanel answers a full batch within a few seconds; a hung host must not hold a
# worker near the queue's task timeout (60 s).
CONNECT_TIMEOUT_SECONDS = 5.0
READ_TIMEOUT_SECONDS = 15.0
# Connections kept open per host within one worker process.
POOL_LIMITS = httpx.Limits(max_connections=8, max_keepalive_connections=4)
# Characters of an answer kept on the attempt row.
EXCERPT_CHARS = 500

EVENT_NAMES = {PurchaseKind.PURCHASE: "Purchase", PurchaseKind.REFUND: "Refund"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_pools: dict[str, httpx.Client] = {}


def build_client(installation) -> "MixpanelClient":
    return MixpanelClient(installation)


def _pool(endpoint: str) -> httpx.Client:
    """One pooled HTTP client per host and worker process."""
    client = _pools.get(endpoint)
    if client is None:
        client = httpx.Client(limits=POOL_LIMITS, follow_redirects=False)
        _pools[endpoint] = client
    return client


def decimal_text(value: Decimal) -> str:
    """A decimal as a JSON number, exactly: no float on the way, no exponent."""
    if not value.is_finite():
        raise ValueError("An amount must be a finite number.")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _as_decimal(value) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def epoch_ms(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _item(item: dict) -> dict:
    price = _as_decimal(item.get("price"))
    quantity = item.get("quantity")
    return {
        "sku": str(item.get("sku") or ""),
        "name": str(item.get("name") or ""),
        "quantity": int(quantity) if isinstance(quantity, int | float) else quantity,
        "price": price if price is not None else item.get("price"),
    }


def event_for(delivery: OutgoingDelivery, *, token: str) -> dict:
    """The Mixpanel event for one delivery (ARCHITECTURE.md, "Mixpanel events")."""
    purchase = delivery.purchase
    sign = -1 if purchase.kind == PurchaseKind.REFUND else 1
    properties = dict(purchase.properties or {})
    properties.update(
        {
            "token": token,
            "distinct_id": delivery.distinct_id or "",
            "time": epoch_ms(delivery.event_time or purchase.occurred_at),
            "$insert_id": delivery.insert_id,
            "ip": 0,
            "amount": sign * abs(purchase.amount),
            "currency": purchase.currency,
            "order_id": str(purchase.order_id or ""),
            "source": purchase.installation.integration,
            "installation_id": str(purchase.installation_id),
            "items": [_item(i) for i in purchase.items or [] if isinstance(i, dict)],
        }
    )
    if purchase.presentment_currency and purchase.presentment_amount is not None:
        properties["presentment_amount"] = sign * abs(purchase.presentment_amount)
        properties["presentment_currency"] = purchase.presentment_currency
    return {"event": EVENT_NAMES[purchase.kind], "properties": properties}


class _Encoder:
    """JSON with Decimals written as exact numbers (via a per-batch marker)."""

    def __init__(self):
        marker = f"__decimal_{secrets.token_hex(8)}__"
        self._marker = marker
        self._pattern = re.compile(f'"{marker}(-?[0-9]+(?:\\.[0-9]+)?){marker}"')

    def _default(self, value):
        if isinstance(value, Decimal):
            return f"{self._marker}{decimal_text(value)}{self._marker}"
        raise TypeError(f"{type(value).__name__} is not JSON serialisable")

    def encode(self, event: dict) -> bytes:
        text = json.dumps(event, default=self._default, separators=(",", ":"))
        return self._pattern.sub(r"\1", text).encode()


def chunks(encoded: list[tuple[OutgoingDelivery, bytes]]):
    """Split encoded events into requests within Mixpanel's count and size limits."""
    chunk: list[tuple[OutgoingDelivery, bytes]] = []
    size = 2  # the brackets
    for delivery, body in encoded:
        grown = size + len(body) + (1 if chunk else 0)
        if chunk and (len(chunk) >= MAX_EVENTS_PER_REQUEST or grown > MAX_BODY_BYTES):
            yield chunk
            chunk, grown = [], 2 + len(body)
        chunk.append((delivery, body))
        size = grown
    if chunk:
        yield chunk


def _insert_id_of(record: dict) -> str | None:
    return record.get("$insert_id") or record.get("insert_id")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class MixpanelClient:
    def __init__(self, installation):
        self.installation = installation
        self.endpoint = mixpanel_endpoint(installation)
        self.auth = mixpanel_auth(installation)
        self.token = mixpanel_project_token(installation)

    def send(self, deliveries: list[OutgoingDelivery]) -> list[SendResult]:
        encoder = _Encoder()
        encoded = [(d, encoder.encode(event_for(d, token=self.token))) for d in deliveries]
        results: list[SendResult] = []
        for chunk in chunks(encoded):
            results.extend(self._post(chunk))
        return results

    def _post(self, chunk: list[tuple[OutgoingDelivery, bytes]]) -> list[SendResult]:
        body = b"[" + b",".join(event for _, event in chunk) + b"]"
        started = time.monotonic()
        try:
            response = _pool(self.endpoint).post(
                f"{self.endpoint}/import",
                params={"strict": "1", **self.auth.params},
                content=gzip.compress(body, compresslevel=5),
                headers={
                    "Content-Type": "application/json",
                    "Content-Encoding": "gzip",
                    "Accept": "application/json",
                },
                auth=self.auth.basic,
                timeout=httpx.Timeout(READ_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS),
            )
        except httpx.TimeoutException:
            error = f"Mixpanel did not answer within {READ_TIMEOUT_SECONDS:g} s (timeout)."
            return self._all(chunk, SendOutcome.RETRY, started, error=error)
        except httpx.HTTPError as exc:
            error = f"Could not reach {self.endpoint}: {type(exc).__name__}."
            return self._all(chunk, SendOutcome.RETRY, started, error=error)
        return self._interpret(chunk, response, started)

    def _interpret(self, chunk, response: httpx.Response, started: float) -> list[SendResult]:
        status = response.status_code
        excerpt = response.text[:EXCERPT_CHARS]
        answer = _error_text(response)
        logger.info(
            "mixpanel_import",
            extra={
                "installation": str(self.installation.pk),
                "status": status,
                "events": len(chunk),
            },
        )
        common = {"status": status, "excerpt": excerpt}
        if 200 <= status < 300:
            return self._all(chunk, SendOutcome.DELIVERED, started, **common)
        if status in (401, 403):
            error = f"Mixpanel refused the credentials (HTTP {status}): {answer}"
            return self._all(chunk, SendOutcome.UNAUTHORIZED, started, error=error, **common)
        if status == 413:
            if len(chunk) > 1:
                half = len(chunk) // 2
                return self._post(chunk[:half]) + self._post(chunk[half:])
            error = f"The event is larger than Mixpanel accepts (HTTP 413): {answer}"
            return self._all(chunk, SendOutcome.REJECTED, started, error=error, **common)
        if status == 400:
            failed = _failed_records(response)
            if failed is not None:
                return self._partial(chunk, failed, started, **common)
        error = f"Mixpanel answered HTTP {status}: {answer}"
        return self._all(
            chunk,
            SendOutcome.RETRY,
            started,
            error=error,
            retry_after=_retry_after(response) if status == 429 else None,
            **common,
        )

    def _partial(self, chunk, failed: list[dict], started, *, status, excerpt):
        """A 400 naming its failed records: those are rejected, the rest went in."""
        by_insert_id = {_insert_id_of(r): r for r in failed if _insert_id_of(r)}
        # Records without an insert id can only be matched by their position.
        by_index = {
            r["index"]: r
            for r in failed
            if not _insert_id_of(r) and isinstance(r.get("index"), int)
        }
        elapsed = _elapsed_ms(started)
        results = []
        for index, (delivery, _) in enumerate(chunk):
            record = by_insert_id.get(delivery.insert_id) or by_index.get(index)
            if record is None:
                outcome, error = SendOutcome.DELIVERED, ""
            else:
                outcome = SendOutcome.REJECTED
                error = "Mixpanel rejected the event: " + _record_reason(record)
            results.append(SendResult(delivery.id, outcome, status, error, excerpt, elapsed))
        return results

    def _all(
        self,
        chunk,
        outcome: SendOutcome,
        started: float,
        *,
        error: str = "",
        status: int | None = None,
        excerpt: str = "",
        retry_after: float | None = None,
    ) -> list[SendResult]:
        elapsed = _elapsed_ms(started)
        return [
            SendResult(d.id, outcome, status, error, excerpt, elapsed, retry_after)
            for d, _ in chunk
        ]


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _json(response: httpx.Response):
    try:
        return response.json()
    except ValueError:
        return None


def _error_text(response: httpx.Response) -> str:
    body = _json(response)
    text = body.get("error") or body.get("status") if isinstance(body, dict) else response.text
    return " ".join(str(text or "").split())[:200]


def _failed_records(response: httpx.Response) -> list[dict] | None:
    body = _json(response)
    if not isinstance(body, dict):
        return None
    failed = body.get("failed_records")
    if not isinstance(failed, list) or not failed:
        return None
    return [r for r in failed if isinstance(r, dict)]


def _record_reason(record: dict) -> str:
    field = record.get("field")
    message = str(record.get("message") or "invalid")
    return f"{field}: {message}" if field else message
