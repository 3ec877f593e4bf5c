"""What every source's ingest endpoint does with a request body before parsing it.

The size is checked from `Content-Length` before anything is read, and again on what
was read; only `application/json` is accepted; malformed JSON is a 400. Each refusal
is an `ApplicationError`, so the API answers it in its one error body.
"""

import json
from decimal import Decimal

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig

from accounts.errors import ApplicationError

JSON_CONTENT_TYPE = "application/json"


def too_large() -> ApplicationError:
    limit = settings.MAX_INGEST_BODY_BYTES
    return ApplicationError(
        detail=f"The body is larger than {limit} bytes.", code="payload_too_large", status=413
    )


def body_read(request) -> bytes:
    """The raw body, refused with 413 above `MAX_INGEST_BODY_BYTES`."""
    limit = settings.MAX_INGEST_BODY_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    try:
        declared_length = int(declared)
    except ValueError:
        raise ApplicationError(
            detail="The Content-Length header is not a number.", code="bad_request", status=400
        ) from None
    if declared_length > limit:
        raise too_large()
    try:
        body = request.body
    except RequestDataTooBig:
        raise too_large() from None
    if len(body) > limit:
        raise too_large()
    return body


def json_content_type_require(request) -> None:
    if request.content_type != JSON_CONTENT_TYPE:
        raise ApplicationError(
            detail="Send the body as application/json.",
            code="unsupported_media_type",
            status=415,
        )


def _no_constants(name: str):
    raise ValueError(f"{name} is not valid JSON")


def json_parse(body: bytes, *, exact_decimals: bool = False):
    """The parsed body; 400 for anything that is not JSON (NaN and Infinity included).

    With `exact_decimals`, JSON numbers with a fraction are read as `Decimal`, never
    through a float, by the standard library. Without, orjson reads the body in under
    half the time; its integers are 64-bit, so a larger one comes back as a float,
    which no Shopify id is (money comes as strings there). orjson also refuses a lone
    surrogate or a byte order mark, which are then a 400 too.
    """
    try:
        if not exact_decimals:
            return orjson.loads(body)
        return json.loads(body, parse_constant=_no_constants, parse_float=Decimal)
    except (ValueError, RecursionError):
        raise ApplicationError(
            detail="The body is not valid JSON.", code="malformed_json", status=400
        ) from None
