"""The API integration: `POST /api/v1/integrations/api/{installation_id}/purchases`.

The installation (unknown or disabled: 404), then its key as a bearer token (401),
then the body: one purchase, or `{"purchases": [...]}` with up to `BATCH_MAX` and a
result per item. Idempotent by `event_id`: sending an event again answers with the
stored purchase and changes nothing.
"""

import logging
from uuid import UUID

from ninja import Router, Schema, Status

from accounts.actors import Actor
from accounts.errors import ApplicationError, FieldError, validation_error
from catalog_integrations.ingest_http import body_read, json_content_type_require, json_parse
from catalog_integrations.sources import IngestSource, SourceChanged, receive_from_source
from config.api import ErrorBody, error_response, error_responses
from events.ingest import RawReceipt
from events.services.purchases import CREATED, ERROR, purchase_record

from .keys import api_key_matches
from .parsing import parse_purchase

logger = logging.getLogger(__name__)

router = Router()

# A batch big enough for a backfill page, small enough for one quick transaction.
BATCH_MAX = 500
TOPIC = "purchases"


class PurchaseAnswer(Schema):
    id: UUID
    status: str


class ItemResult(Schema):
    index: int
    status: str
    id: UUID | None = None
    error: ErrorBody | None = None


class BatchAnswer(Schema):
    results: list[ItemResult]


def _bearer(request) -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


@router.post(
    "/{installation_id}/purchases",
    auth=None,
    response={
        200: PurchaseAnswer | BatchAnswer,
        201: PurchaseAnswer,
        **error_responses(400, 404, 413, 415),
    },
    summary="Record purchases",
)
def purchases_receive(request, installation_id: str):
    """One purchase (201 when new, 200 when its `event_id` was seen), or a batch (200)."""
    return receive_from_source(request, installation_id, "api", _receive)


def _receive(request, source: IngestSource | None):
    installation = source and source.installation
    if installation is None or not installation.is_active:
        return error_response(request, status=404, detail="Not found.")
    if not api_key_matches(installation, _bearer(request)):
        if source.remembered:
            raise SourceChanged(str(installation.pk))
        return error_response(
            request, status=401, detail="A valid installation key is required.", code="invalid_key"
        )
    body = body_read(request)
    json_content_type_require(request)
    payload = json_parse(body, exact_decimals=True)

    if isinstance(payload, dict) and "purchases" in payload:
        return Status(200, _batch(request, source, payload, body))
    return _single(request, source, payload, body)


def _receipt(body: bytes) -> RawReceipt:
    return RawReceipt(topic=TOPIC, body=body)


def _record(request, source: IngestSource, events, body: bytes):
    return purchase_record(
        organisation=request.tenant,
        source=source,
        events=events,
        receipt=_receipt(body),
        actor=Actor.installation(source.installation),
    )


def _single(request, source: IngestSource, payload, body: bytes):
    event, errors = parse_purchase(payload)
    if event is None:
        raise validation_error("The purchase is not valid.", errors)
    outcome = _record(request, source, [event], body).outcomes[0]
    if outcome.status == ERROR:
        raise validation_error("The purchase is not valid.", list(outcome.errors))
    status = 201 if outcome.status == CREATED else 200
    return Status(status, {"id": outcome.purchase_id, "status": outcome.status})


def _batch(request, source: IngestSource, payload: dict, body: bytes) -> dict:
    items = payload["purchases"]
    extra = sorted(set(payload) - {"purchases"})
    if extra:
        raise validation_error(
            "A batch holds only `purchases`.",
            [FieldError(name, "Not a field of a batch.") for name in extra],
        )
    if not isinstance(items, list) or not items:
        raise validation_error(
            "`purchases` must be a list of purchases.",
            [FieldError("purchases", "Must be a non-empty list.")],
        )
    if len(items) > BATCH_MAX:
        raise ApplicationError(
            detail=f"A batch holds at most {BATCH_MAX} purchases.",
            code="too_many_items",
            status=413,
        )

    results: list[dict | None] = [None] * len(items)
    valid, positions = [], []
    for index, item in enumerate(items):
        event, errors = parse_purchase(item)
        if event is None:
            results[index] = _item_error(index, errors)
        else:
            valid.append(event)
            positions.append(index)
    if not valid and source.remembered:
        # Only a checked write may rest on a remembered source.
        raise SourceChanged(str(source.installation.pk))
    if valid:
        outcomes = _record(request, source, valid, body).outcomes
        for index, outcome in zip(positions, outcomes, strict=True):
            if outcome.status == ERROR:
                results[index] = _item_error(index, list(outcome.errors))
            else:
                results[index] = {
                    "index": index,
                    "status": outcome.status,
                    "id": outcome.purchase_id,
                }
    return {"results": results}


def _item_error(index: int, errors: list[FieldError]) -> dict:
    error = validation_error("The purchase is not valid.", errors)
    return {"index": index, "status": ERROR, "error": error.as_body()}
