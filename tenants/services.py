import logging
import secrets
import time
from dataclasses import dataclass

from allauth.account.models import EmailAddress
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django_tenants.utils import schema_context, tenant_context

from accounts.actors import Actor
from accounts.errors import ApplicationError, FieldError
from accounts.models import Member, Role
from accounts.services import audit_record

from .models import Domain, Organisation
from .slugs import schema_name_for, slug_problem
from .urls import organisation_base_url, organisation_host

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProvisionedOrganisation:
    organisation: Organisation
    admin: Member
    generated_password: str | None

    def as_dict(self) -> dict:
        data = {
            "slug": self.organisation.slug,
            "schema_name": self.organisation.schema_name,
            "domain": organisation_host(self.organisation.slug),
            "portal_url": organisation_base_url(self.organisation.slug),
            "admin_email": self.admin.email,
        }
        if self.generated_password:
            data["admin_password"] = self.generated_password
        return data


def _check_new_organisation(*, slug: str, name: str, admin_email: str) -> None:
    errors = []
    problem = slug_problem(slug)
    if problem:
        errors.append(FieldError("slug", problem))
    elif (
        Organisation.objects.filter(slug=slug).exists()
        or Organisation.objects.filter(schema_name=schema_name_for(slug)).exists()
    ):
        raise ApplicationError(
            detail=f"The name '{slug}' is already taken.",
            code="slug_taken",
            status=409,
            errors=[FieldError("slug", "This name is already taken.")],
        )
    if not name.strip():
        errors.append(FieldError("name", "Give the organisation a name."))
    if "@" not in admin_email:
        errors.append(FieldError("admin_email", "Enter a valid email address."))
    if errors:
        raise ApplicationError(
            detail="The organisation could not be created.",
            code="validation_error",
            status=422,
            errors=errors,
        )


def organisation_create(
    *,
    slug: str,
    name: str,
    admin_email: str,
    admin_password: str | None = None,
    email_verified: bool = True,
    actor: Actor,
) -> ProvisionedOrganisation:
    """Provision an organisation: its schema (cloned from the base), domain and first admin.

    One transaction: a failure leaves no schema, row or domain behind. With
    `email_verified` the admin can sign in at once; sign-up passes False and sends
    the verification mail itself.
    """
    slug = slug.strip().lower()
    admin_email = admin_email.strip().lower()
    # Organisations are rows of the public schema; a caller may still be inside one.
    connection.set_schema_to_public()
    _check_new_organisation(slug=slug, name=name, admin_email=admin_email)
    generated = None if admin_password else secrets.token_urlsafe(12)
    started = time.perf_counter()

    try:
        with transaction.atomic():
            organisation = Organisation(schema_name=schema_name_for(slug), slug=slug, name=name)
            organisation.save(verbosity=0)
            Domain.objects.create(
                domain=organisation_host(slug), tenant=organisation, is_primary=True
            )
            with tenant_context(organisation):
                admin = Member.objects.create_user(
                    email=admin_email, password=admin_password or generated, role=Role.ADMIN
                )
                EmailAddress.objects.create(
                    user=admin, email=admin_email, primary=True, verified=email_verified
                )
                audit_record(
                    actor=actor,
                    action="organisation.created",
                    target=organisation,
                    target_label=organisation.name,
                    changes={"slug": slug, "admin_email": admin_email},
                )
    except IntegrityError as exc:
        raise ApplicationError(
            detail=f"The name '{slug}' is already taken.", code="slug_taken", status=409
        ) from exc
    finally:
        connection.set_schema_to_public()

    logger.info(
        "organisation_created",
        extra={
            "slug": slug,
            "schema": organisation.schema_name,
            "ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
    return ProvisionedOrganisation(organisation, admin, generated)


def organisation_delete(*, organisation: Organisation, actor: Actor) -> None:
    """Drop the organisation's schema, rows and domains; its hosts stop answering at once."""
    slug = organisation.slug
    connection.set_schema_to_public()
    with transaction.atomic():
        organisation.delete(force_drop=True)
    connection.set_schema_to_public()
    logger.info("organisation_deleted", extra={"slug": slug, "actor": actor.label})


def base_schema_tables() -> set[str]:
    with schema_context("public"), connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            [settings.TENANT_BASE_SCHEMA],
        )
        return {row[0] for row in cursor.fetchall()}
