import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress
from allauth.account.utils import user_pk_to_url_str
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import models, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, Application, RefreshToken

from .actors import Actor
from .errors import ApplicationError, FieldError, validation_error
from .models import ApiClient, AuditEntry, Member, Role
from .selectors import known_scopes

logger = logging.getLogger(__name__)


def audit_record(
    *,
    actor: Actor,
    action: str,
    target: models.Model | None = None,
    target_label: str = "",
    changes: dict | None = None,
) -> AuditEntry:
    """Write one audit row in the caller's schema and transaction.

    `changes` must hold no secret values: name a rotated secret, never its content.
    """
    return AuditEntry.objects.create(
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_label=actor.label,
        action=action,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=target_label or (str(target) if target is not None else ""),
        changes=changes or {},
    )


# API clients ---------------------------------------------------------------------------

# Last use is telemetry, not a change: written at most this often per client, so a busy
# client does not turn every API request into a write.
API_CLIENT_USE_RESOLUTION = timedelta(minutes=1)
API_CLIENT_NAME_MAX_LENGTH = 200


@dataclass(frozen=True)
class CreatedApiClient:
    """A new API client with its secret: the only moment the secret exists in clear."""

    api_client: ApiClient
    client_id: str
    client_secret: str
    scopes: list[str]

    def as_dict(self) -> dict:
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scopes": self.scopes,
        }


def _clean_api_client_input(*, name: str, scopes: Iterable[str]) -> tuple[str, list[str]]:
    known = known_scopes()
    name = (name or "").strip()
    wanted = sorted(set(scopes or ()))
    errors = []
    if not name:
        errors.append(FieldError("name", "Give the API client a name."))
    elif len(name) > API_CLIENT_NAME_MAX_LENGTH:
        errors.append(FieldError("name", f"At most {API_CLIENT_NAME_MAX_LENGTH} characters."))
    if not wanted:
        errors.append(FieldError("scopes", "Choose at least one scope."))
    unknown = [scope for scope in wanted if scope not in known]
    if unknown:
        errors.append(
            FieldError(
                "scopes",
                f"Unknown scope: {', '.join(unknown)}. Known: {', '.join(known)}.",
            )
        )
    if errors:
        raise validation_error("The API client could not be created.", errors)
    return name, wanted


def api_client_create(*, name: str, scopes: Iterable[str], actor: Actor) -> CreatedApiClient:
    """Create a client-credentials API client in the current organisation's schema.

    The secret is returned here once and stored only as a hash.
    """
    name, scopes = _clean_api_client_input(name=name, scopes=scopes)
    secret = generate_client_secret()

    with transaction.atomic():
        application = Application.objects.create(
            name=name,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            client_secret=secret,
            hash_client_secret=True,
            skip_authorization=True,
        )
        api_client = ApiClient.objects.create(
            application=application, scopes=scopes, created_by=actor.label
        )
        audit_record(
            actor=actor,
            action="api_client.created",
            target=api_client,
            target_label=name,
            changes={"client_id": application.client_id, "scopes": scopes},
        )

    logger.info("api_client_created", extra={"client_id": application.client_id, "scopes": scopes})
    return CreatedApiClient(api_client, application.client_id, secret, scopes)


def api_client_revoke(*, api_client: ApiClient, actor: Actor) -> ApiClient:
    """Revoke a client: its tokens stop working at once and it can get no new ones.

    Revoking a revoked client changes nothing.
    """
    with transaction.atomic():
        api_client = ApiClient.objects.select_for_update().get(pk=api_client.pk)
        if api_client.is_revoked:
            return api_client
        api_client.revoked_at = timezone.now()
        api_client.revoked_by = actor.label
        api_client.save(update_fields=["revoked_at", "revoked_by"])
        tokens, _ = AccessToken.objects.filter(application_id=api_client.pk).delete()
        RefreshToken.objects.filter(application_id=api_client.pk).delete()
        audit_record(
            actor=actor,
            action="api_client.revoked",
            target=api_client,
            target_label=api_client.application.name,
            changes={"client_id": api_client.application.client_id, "tokens_revoked": tokens},
        )

    logger.info(
        "api_client_revoked",
        extra={"client_id": api_client.application.client_id, "tokens": tokens},
    )
    return api_client


def api_client_record_use(*, api_client: ApiClient, now: datetime) -> None:
    """Note that the client called the API; a no-op within a minute of the last note."""
    last = api_client.last_used_at
    if last is not None and now - last < API_CLIENT_USE_RESOLUTION:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - API_CLIENT_USE_RESOLUTION)
    ApiClient.objects.filter(stale, pk=api_client.pk).update(last_used_at=now)
    api_client.last_used_at = now


# Members -------------------------------------------------------------------------------


def _clean_role(role: str) -> str:
    if role not in Role.values:
        raise validation_error(
            "Choose a role.", [FieldError("role", f"One of: {', '.join(Role.values)}.")]
        )
    return role


def _refuse_losing_last_admin(member: Member, *, verb: str) -> None:
    """Refuse when `member` is the organisation's only active admin.

    The active admins are locked first, so two admins demoting each other at the same
    moment cannot both succeed and leave nobody in charge.
    """
    admins = list(
        Member.objects.select_for_update()
        .filter(role=Role.ADMIN, is_active=True)
        .values_list("pk", flat=True)
    )
    if member.pk in admins and len(admins) == 1:
        raise ApplicationError(
            detail=f"You cannot {verb} the last admin: make another member an admin first.",
            code="last_admin",
            status=409,
        )


def _invite_link(member: Member, *, portal_url: str) -> str:
    token = default_token_generator.make_token(member)
    path = reverse(
        "account_reset_password_from_key",
        kwargs={"uidb36": user_pk_to_url_str(member), "key": token},
    )
    return portal_url.rstrip("/") + path


def _send_invite(*, email: str, link: str, invited_by: str, organisation_name: str) -> None:
    context = {
        "link": link,
        "invited_by": invited_by,
        "organisation_name": organisation_name,
    }
    send_mail(
        subject=f"You are invited to {organisation_name}",
        message=render_to_string("accounts/email/invite.txt", context),
        from_email=None,
        recipient_list=[email],
    )


def member_invite(
    *, email: str, role: str, portal_url: str, organisation_name: str, actor: Actor
) -> Member:
    """Add a member who sets their own password through the link mailed to them.

    The member has no usable password until they follow the link (allauth's password
    reset, keyed to this member): the link proves they own the address, so the address
    counts as verified. The mail goes out after commit.
    """
    email = (email or "").strip().lower()
    role = _clean_role(role)
    try:
        validate_email(email)
    except ValidationError as exc:
        raise validation_error(
            "The invitation could not be sent.", [FieldError("email", "Enter a valid email.")]
        ) from exc

    with transaction.atomic():
        if Member.objects.filter(email__iexact=email).exists():
            raise ApplicationError(
                detail=f"{email} is already a member.",
                code="member_exists",
                status=409,
                errors=[FieldError("email", "Already a member.")],
            )
        member = Member.objects.create_user(email=email, password=None, role=role)
        EmailAddress.objects.create(user=member, email=email, primary=True, verified=True)
        audit_record(
            actor=actor,
            action="member.invited",
            target=member,
            target_label=email,
            changes={"email": email, "role": role},
        )
        link = _invite_link(member, portal_url=portal_url)
        transaction.on_commit(
            partial(
                _send_invite,
                email=email,
                link=link,
                invited_by=actor.label,
                organisation_name=organisation_name,
            )
        )

    logger.info("member_invited", extra={"member_id": member.pk, "role": role})
    return member


def member_set_role(*, member: Member, role: str, actor: Actor) -> Member:
    """Change a member's role; the last admin cannot be made a viewer."""
    role = _clean_role(role)
    with transaction.atomic():
        member = Member.objects.select_for_update().get(pk=member.pk)
        if member.role == role:
            return member
        if role != Role.ADMIN:
            _refuse_losing_last_admin(member, verb="demote")
        previous = member.role
        member.role = role
        member.save(update_fields=["role"])
        audit_record(
            actor=actor,
            action="member.role_changed",
            target=member,
            target_label=member.email,
            changes={"role": [previous, role]},
        )

    logger.info("member_role_changed", extra={"member_id": member.pk, "role": role})
    return member


def member_remove(*, member: Member, actor: Actor) -> None:
    """Remove a member: their sessions stop working at once. Never the last admin."""
    with transaction.atomic():
        member = Member.objects.select_for_update().get(pk=member.pk)
        _refuse_losing_last_admin(member, verb="remove")
        member_id = member.pk
        audit_record(
            actor=actor,
            action="member.removed",
            target=member,
            target_label=member.email,
            changes={"email": member.email, "role": member.role},
        )
        member.delete()

    logger.info("member_removed", extra={"member_id": member_id})
