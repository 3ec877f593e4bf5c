"""What every source's ingest endpoint does with a request body before parsing it.

The size is checked from `Content-Length` before anything is read, and again on what
was read; only `application/json` is accepted; malformed JSON is a 400. Each refusal
is an `ApplicationError`, so the API answers it in its one error body.
"""

import json
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import connection

from accounts.errors import ApplicationError

from .models import Installation

JSON_CONTENT_TYPE = "application/json"
_INSTALLATION_FIELDS = Installation._meta.concrete_fields
_INSTALLATION_SQL = (
    f"SELECT {', '.join(f.column for f in _INSTALLATION_FIELDS)} "  # noqa: S608
    f"FROM {Installation._meta.db_table} WHERE id = %s AND integration = %s"
)


def installation_named(installation_id: str, integration: str) -> Installation | None:
    """The installation an ingest URL names, or None for an unknown or malformed id.

    Read with a plain cursor: on the ingest path the ORM's query building, and even a
    raw queryset's column mapping, cost more than the fetch.
    """
    try:
        pk = UUID(installation_id)
    except ValueError:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_INSTALLATION_SQL, [pk, integration])
        row = cursor.fetchone()
    if row is None:
        return None
    values = [
        field.from_db_value(value, None, connection) if hasattr(field, "from_db_value") else value
        for field, value in zip(_INSTALLATION_FIELDS, row, strict=True)
    ]
    return Installation.from_db(
        connection.alias, [field.attname for field in _INSTALLATION_FIELDS], values
    )


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
    through a float.
    """
    try:
        return json.loads(
            body,
            parse_constant=_no_constants,
            parse_float=Decimal if exact_decimals else float,
        )
    except (ValueError, RecursionError):
        raise ApplicationError(
            detail="The body is not valid JSON.", code="malformed_json", status=400
        ) from None
