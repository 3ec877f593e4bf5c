"""Reads of the accounts app: API clients and who is calling the API."""

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings
from django.db.models import QuerySet
from oauth2_provider.models import AccessToken, Application

from .actors import Actor
from .models import ApiClient, AuditEntry, Member


def known_scopes() -> list[str]:
    """Every scope an API client may be granted, in a stable order."""
    return sorted(settings.OAUTH2_PROVIDER["SCOPES"])


def api_client_list() -> QuerySet[ApiClient]:
    """The organisation's API clients, newest first, revoked ones included."""
    return ApiClient.objects.select_related("application").order_by("-created_at")


def api_client_get(*, pk: int) -> ApiClient | None:
    return ApiClient.objects.select_related("application").filter(pk=pk).first()


@dataclass(frozen=True)
class ApiCaller:
    """Who an API request comes from: the token's application (never `request.user`)."""

    api_client: ApiClient
    scopes: frozenset[str]

    @property
    def application(self) -> Application:
        return self.api_client.application

    @property
    def actor(self) -> Actor:
        return Actor.api_client(self.application)


def api_caller_for_token(token: str, *, now: datetime) -> ApiCaller | None:
    """The caller behind a bearer token in the current organisation's schema, if valid.

    Unknown (another organisation's, or revoked at `/o/revoke_token/`), expired tokens,
    and tokens of revoked clients give None. One query.
    """
    checksum = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
    access = (
        AccessToken.objects.select_related("application__api_client")
        .filter(token_checksum=checksum, application__isnull=False)
        .first()
    )
    if access is None or access.expires is None or access.expires <= now:
        return None
    api_client = getattr(access.application, "api_client", None)
    if api_client is None or api_client.is_revoked:
        return None
    granted = set(api_client.scopes)
    return ApiCaller(api_client=api_client, scopes=frozenset(access.scope.split()) & granted)


# Members and the audit log -------------------------------------------------------------


def member_list() -> QuerySet[Member]:
    """Every member of the organisation: admins first, then by email."""
    return Member.objects.order_by("role", "email")


def member_get(*, pk: int) -> Member | None:
    return Member.objects.filter(pk=pk).first()


def audit_actions() -> list[str]:
    """The actions recorded so far, for the log's filter (served by the action index)."""
    return list(AuditEntry.objects.order_by("action").values_list("action", flat=True).distinct())


def audit_entries(
    *,
    action: str = "",
    actor: str = "",
    date_from: date | None = None,
    date_to: date | None = None,
) -> QuerySet[AuditEntry]:
    """Audit entries matching the filters; the caller pages them by (occurred_at, id)."""
    entries = AuditEntry.objects.all()
    if action:
        entries = entries.filter(action=action)
    if actor:
        entries = entries.filter(actor_label__icontains=actor)
    if date_from:
        entries = entries.filter(occurred_at__gte=_day_start(date_from))
    if date_to:
        entries = entries.filter(occurred_at__lt=_day_start(date_to + timedelta(days=1)))
    return entries


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)
