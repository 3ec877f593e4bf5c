"""The API under `/api/v1/` on every organisation's host.

Errors leave in one shape, built here and nowhere else:
`{"detail": "<message>", "code": "<snake_case>", "errors": [{"field", "message"}]}`.
Apps contribute one ninja Router each; integration packages' routers come from the
registry (see `catalog_integrations.registry`).
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import Http404
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, AuthorizationError, HttpError, ValidationError

from accounts.errors import ApplicationError

logger = logging.getLogger(__name__)

STATUS_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}

API_DESCRIPTION = """\
Each organisation's API, on its own host (`https://<organisation>.<domain>/api/v1/`).

- **Users** (`/users`): the organisation's shoppers and their ids on each e-commerce
  platform. Authenticate with an OAuth2 access token from `POST /o/token/` (client
  credentials of an API client made in the portal); each operation names its scope.
- **Purchases** (`/purchases`): what was recorded, with its delivery states
  (`purchases:read`).
- **Ingest** (`/integrations/...`): where platforms send purchases. Shopify webhooks are
  authenticated by their HMAC signature, the API integration by its installation key.

Every error has one shape: `{"detail", "code", "errors": [{"field", "message"}]}`.
"""

api = NinjaAPI(
    title="Commerce analytics API",
    description=API_DESCRIPTION,
    version="1",
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


class FieldErrorBody(Schema):
    field: str
    message: str


class ErrorBody(Schema):
    """The one error body of `/api/v1/`; `errors` only for validation failures."""

    detail: str
    code: str
    errors: list[FieldErrorBody] | None = None


def error_responses(*statuses: int) -> dict[int, type[ErrorBody]]:
    """Document error statuses of an operation: `response={200: X, **error_responses(404)}`.

    401 and 422 (a token is required; any input may be invalid) are always included.
    """
    return {status: ErrorBody for status in sorted({401, 422, *statuses})}


def _mount_routers() -> None:
    from catalog_integrations.registry import mount_routers
    from events.api import router as events_router

    api.add_router("", events_router)
    mount_routers(api)


def error_response(request, *, status: int, detail: str, code: str | None = None, errors=None):
    body = {"detail": detail, "code": code or STATUS_CODES.get(status, "error")}
    if errors:
        body["errors"] = errors
    return api.create_response(request, body, status=status)


def _field_path(location) -> str:
    # ninja reports ("body", "<param>", "a", "b"); callers know the field as "a.b".
    parts = [str(p) for p in location]
    if parts and parts[0] in ("body", "query", "path", "header", "form", "cookie"):
        parts = parts[1:]
        if len(parts) > 1 and parts[0] in ("payload", "data", "body", "filters", "params"):
            parts = parts[1:]
    return ".".join(parts) or "body"


@api.exception_handler(ApplicationError)
def _application_error(request, exc: ApplicationError):
    return api.create_response(request, exc.as_body(), status=exc.status)


@api.exception_handler(ValidationError)
def _validation_error(request, exc: ValidationError):
    errors = [
        {"field": _field_path(error.get("loc", ())), "message": error.get("msg", "Invalid.")}
        for error in exc.errors
    ]
    return error_response(request, status=422, detail="The request is not valid.", errors=errors)


@api.exception_handler(AuthenticationError)
def _authentication_error(request, exc):
    response = error_response(
        request, status=401, detail="A valid access token is required.", code="not_authenticated"
    )
    # RFC 6750: a bearer-protected resource names its scheme on 401.
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@api.exception_handler(AuthorizationError)
def _authorization_error(request, exc):
    return error_response(request, status=403, detail=str(exc) or "Not allowed.")


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    return error_response(request, status=exc.status_code, detail=str(exc))


@api.exception_handler(Http404)
def _not_found(request, exc):
    return error_response(request, status=404, detail="Not found.")


@api.exception_handler(Exception)
def _unexpected(request, exc):
    if isinstance(exc, (OperationalError, InterfaceError)):
        # The database is away (restart, failover): the sender should retry shortly.
        logger.warning("api_database_unavailable", extra={"path": request.path})
        response = error_response(
            request,
            status=503,
            detail="The service is briefly unavailable; try again.",
            code="unavailable",
        )
        response["Retry-After"] = "5"
        return response
    logger.exception("api_unexpected_error", extra={"path": request.path})
    return error_response(request, status=500, detail="Internal error.", code="internal_error")


_mount_routers()
