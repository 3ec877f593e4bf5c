"""`/api/v1/users`: the organisation's shoppers and their platform identities."""

import math
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from ninja import Query, Schema, Status
from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    SkipValidation,
    StringConstraints,
    TypeAdapter,
)
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import PydanticCustomError

from accounts.api_auth import OAuth2Bearer
from accounts.errors import ApplicationError, FieldError, validation_error
from config.api import ErrorBody, error_responses
from events.selectors.users import customer_get, customer_list, customer_page
from events.services.users import (
    BULK_MAX_USERS,
    IdentityRef,
    UserInput,
    customer_create,
    customer_delete,
    customer_update,
    customers_bulk_upsert,
    ensure_bulk_size,
)

from . import router

READ = OAuth2Bearer(scopes=["users:read"])
WRITE = OAuth2Bearer(scopes=["users:write"])

PAGE_MAX = 100
PAGE_DEFAULT = 50
# Beyond this an offset only ever finds nothing; the bound keeps it a valid SQL bigint.
OFFSET_MAX = 1_000_000_000
IDENTITIES_MAX = 50
# Nesting of `properties`; deeper documents are refused rather than stored.
PROPERTIES_MAX_DEPTH = 16


# Input checks --------------------------------------------------------------------------


def _storable_text(value: str) -> str:
    # PostgreSQL text cannot hold NUL, and lone surrogates are not Unicode text.
    if "\x00" in value:
        raise PydanticCustomError("nul_character", "Must not contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError("invalid_text", "Must be valid Unicode text.") from None
    return value


def _email(value: str) -> str:
    try:
        validate_email(value)
    except DjangoValidationError:
        raise PydanticCustomError("invalid_email", "Enter a valid email address.") from None
    return value


def _storable_json(value: dict[str, Any]) -> dict[str, Any]:
    pending = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > PROPERTIES_MAX_DEPTH:
            raise PydanticCustomError(
                "too_deep", f"Nest at most {PROPERTIES_MAX_DEPTH} levels deep."
            )
        children = node.items() if isinstance(node, dict) else enumerate(node)
        for key, child in children:
            if isinstance(key, str):
                _storable_text(key)
            if isinstance(child, str):
                _storable_text(child)
            elif isinstance(child, float) and not math.isfinite(child):
                raise PydanticCustomError("not_finite", "Numbers must be finite.")
            elif isinstance(child, dict | list):
                pending.append((child, depth + 1))
    return value


def _no_fraction(value: Any) -> Any:
    # Whole numbers become text ("42"); a JSON number with a fraction or exponent would be
    # kept as Python writes a float ("1.0", "1e+20", "inf", "nan"), never a platform's id.
    if isinstance(value, float):
        raise PydanticCustomError("not_an_id", "Must be text or a whole number.")
    return value


Text = Annotated[str, AfterValidator(_storable_text)]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254),
    AfterValidator(_storable_text),
    AfterValidator(_email),
    Field(json_schema_extra={"format": "email"}),
]
Name = Annotated[Text, StringConstraints(max_length=200)]


def _printable(value: str) -> str:
    # The same rule as ids that arrive on purchases (events.ingest.identifier): a
    # shopper's id with a control character in it could never be matched.
    if not value.isprintable():
        raise PydanticCustomError("control_characters", "Must not contain control characters.")
    return value


ExternalId = Annotated[
    Text,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=255),
    BeforeValidator(_no_fraction),
    AfterValidator(_printable),
]
Properties = Annotated[dict[str, Any], AfterValidator(_storable_json)]


# Schemas -------------------------------------------------------------------------------


class IdentityIn(Schema):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)

    installation_id: UUID = Field(description="A source installation (Shopify, API...).")
    external_id: ExternalId = Field(description="The user's id on that installation.")


class IdentityOut(Schema):
    installation_id: UUID
    external_id: str


class UserIn(Schema):
    """A user to create: every field is optional, but it needs an email or an identity."""

    model_config = ConfigDict(extra="forbid")

    email: Email | None = None
    name: Name = ""
    properties: Properties = Field(default_factory=dict)
    identities: list[IdentityIn] = Field(default_factory=list, max_length=IDENTITIES_MAX)


class UserPatch(UserIn):
    """The fields to change; `identities`, when given, replaces the user's identities."""


class UserOut(Schema):
    id: UUID
    email: str | None
    name: str
    properties: dict[str, Any]
    identities: list[IdentityOut]
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def resolve_identities(obj) -> list:
        if isinstance(obj, dict):
            return obj["identities"]
        return list(obj.identities.all())


class UserListOut(Schema):
    items: list[UserOut]
    count: int


class UserFilters(Schema):
    limit: int = Field(PAGE_DEFAULT, ge=1, description=f"At most {PAGE_MAX}; more is clamped.")
    offset: int = Field(0, ge=0, le=OFFSET_MAX)
    email: Annotated[Text, StringConstraints(max_length=320)] | None = Field(
        None, description="Exact email, in any case."
    )
    installation_id: UUID | None = Field(None, description="With `external_id`: one identity.")
    external_id: Annotated[Text, StringConstraints(max_length=255)] | None = None


class BulkUsersIn(Schema):
    # Items are checked one by one, so one bad item is reported, not the whole call.
    users: list[SkipValidation[UserIn]] = Field(
        description=f"Up to {BULK_MAX_USERS} users, each matched by email or identity."
    )


class BulkResultOut(Schema):
    index: int
    status: Literal["created", "updated", "unchanged", "error"]
    id: UUID | None = None
    error: ErrorBody | None = None


class BulkOut(Schema):
    results: list[BulkResultOut]


# Mapping to the services ---------------------------------------------------------------

_ITEM = TypeAdapter(UserIn)


def _user_input(payload: UserIn) -> UserInput:
    given = frozenset(payload.model_fields_set)
    return UserInput(
        email=payload.email,
        name=payload.name,
        properties=payload.properties,
        identities=tuple(IdentityRef(i.installation_id, i.external_id) for i in payload.identities),
        given=given,
    )


def _bulk_item(raw: Any) -> UserInput | ApplicationError:
    if not isinstance(raw, dict):
        return validation_error("The user is not valid.", [FieldError("user", "Not an object.")])
    try:
        return _user_input(_ITEM.validate_python(raw))
    except PydanticValidationError as exc:
        errors = [
            FieldError(".".join(str(p) for p in e["loc"]) or "user", e["msg"]) for e in exc.errors()
        ]
        return validation_error("The user is not valid.", errors)


def _found(user_id: UUID):
    customer = customer_get(customer_id=user_id)
    if customer is None:
        raise ApplicationError(detail="No user with this id.", code="not_found", status=404)
    return customer


def _created(customer, data: UserInput) -> dict:
    # What was just inserted, as a read would return it (identities in the order given).
    return {
        "id": customer.pk,
        "email": customer.email,
        "name": customer.name,
        "properties": customer.properties,
        "identities": [
            {"installation_id": ref.installation_id, "external_id": ref.external_id}
            for ref in data.identities
        ],
        "created_at": customer.created_at,
        "updated_at": customer.updated_at,
    }


# Operations ----------------------------------------------------------------------------


@router.get(
    "/users",
    auth=READ,
    response={200: UserListOut, **error_responses(403)},
    tags=["users"],
    summary="List users",
)
def user_list(request, filters: Query[UserFilters]):
    """Users oldest first. Filter by `email`, or by one identity (`installation_id` and
    `external_id` together). `limit` above 100 is clamped to 100."""
    if (filters.installation_id is None) != (filters.external_id is None):
        missing = "external_id" if filters.external_id is None else "installation_id"
        raise validation_error(
            "Filter by an identity with both installation_id and external_id.",
            [FieldError(missing, "Required with the other half of the identity.")],
        )
    queryset = customer_list(
        email=filters.email,
        installation_id=filters.installation_id,
        external_id=filters.external_id,
    )
    items, count = customer_page(
        queryset, limit=min(filters.limit, PAGE_MAX), offset=filters.offset
    )
    return {"items": items, "count": count}


@router.post(
    "/users",
    auth=WRITE,
    response={201: UserOut, **error_responses(400, 403, 409)},
    tags=["users"],
    summary="Create a user",
)
def user_create(request, payload: UserIn):
    """Create a user with an email, an identity, or both. An identity points to a source
    installation of this organisation (else 422) and belongs to one user only (else 409);
    so does an email."""
    data = _user_input(payload)
    customer = customer_create(data=data, actor=request.auth.actor)
    return Status(201, _created(customer, data))


# Registered before /users/{user_id}, which would otherwise take /users/bulk.
@router.post(
    "/users/bulk",
    auth=WRITE,
    response={200: BulkOut, **error_responses(400, 403, 409, 413)},
    exclude_none=True,
    tags=["users"],
    summary="Create or update many users",
)
def user_bulk_upsert(request, payload: BulkUsersIn):
    """Up to 1,000 users in one call (more: 413). Each item is matched to an existing user
    by its email or one of its identities: a match is updated with the fields the item
    gives (`identities` replaces the user's identities), no match creates a user. Each
    item gets a result, `created`, `updated`, `unchanged` or `error` (with the error body
    and nothing written for it). Matching sees the users as they were before the call;
    two items for the same user, or an item whose email and identities belong to
    different users, are errors."""
    ensure_bulk_size(len(payload.users))  # before checking a needlessly long list
    items = [_bulk_item(raw) for raw in payload.users]
    results = customers_bulk_upsert(items=items, actor=request.auth.actor)
    return {
        "results": [
            {
                "index": r.index,
                "status": r.status,
                "id": r.id,
                "error": r.error.as_body() if r.error else None,
            }
            for r in results
        ]
    }


@router.get(
    "/users/{user_id}",
    auth=READ,
    response={200: UserOut, **error_responses(403, 404)},
    tags=["users"],
    summary="Get a user",
)
def user_get(request, user_id: UUID):
    return _found(user_id)


@router.patch(
    "/users/{user_id}",
    auth=WRITE,
    response={200: UserOut, **error_responses(400, 403, 404, 409)},
    tags=["users"],
    summary="Change a user",
)
def user_update(request, user_id: UUID, payload: UserPatch):
    """Change the fields given. `identities`, when given, replaces all of the user's
    identities. A user keeps an email or at least one identity."""
    customer = customer_update(
        customer=_found(user_id), data=_user_input(payload), actor=request.auth.actor
    )
    return _found(customer.pk)  # re-read: identities as stored


@router.delete(
    "/users/{user_id}",
    auth=WRITE,
    response={204: None, **error_responses(403, 404)},
    tags=["users"],
    summary="Delete a user and their personal data",
)
def user_delete(request, user_id: UUID):
    """Deletes the user's personal data: email, name, properties and identities.

    **Purchases are kept as anonymous figures**: amounts, currencies, items and times
    stay in the organisation's reports, but each purchase loses its link to the user and
    the platform's customer id. Events already sent to analytics tools are not recalled.
    """
    customer_delete(customer=_found(user_id), actor=request.auth.actor)
    return Status(204, None)
