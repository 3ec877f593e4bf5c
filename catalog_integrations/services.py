"""Writes of installations: install, change, enable or disable, delete, rotate secrets.

Every service takes an explicit actor, runs in one transaction in the active
organisation's schema and writes an audit row there. Audit rows and logs name secrets,
never their values. The portal lets only admins reach these.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.errors import ApplicationError, FieldError, validation_error
from accounts.services import audit_record

from .base import BaseIntegration, Prepared
from .crypto import encrypt_secrets, reencrypt
from .models import Installation
from .registry import get_integration

logger = logging.getLogger(__name__)

NAME_MAX_LENGTH = Installation._meta.get_field("name").max_length


@dataclass
class InstallationResult:
    """An installation, plus values to show the installer once (a new API key)."""

    installation: Installation
    one_time: dict[str, str] = field(default_factory=dict)

    @property
    def integration(self) -> BaseIntegration:
        return _integration(self.installation.integration)


@dataclass
class _Checked:
    name: str
    prepared: Prepared
    unique_key: str | None


def _integration(key: str) -> BaseIntegration:
    integration = get_integration(key)
    if integration is None:
        raise ApplicationError(
            detail=f"There is no integration called '{key}'.",
            code="unknown_integration",
            status=404,
            errors=[FieldError("integration", "Unknown integration.")],
        )
    return integration


def _name_errors(name: str) -> list[FieldError]:
    if not name:
        return [FieldError("name", "Give the installation a name.")]
    if len(name) > NAME_MAX_LENGTH:
        return [FieldError("name", f"Use at most {NAME_MAX_LENGTH} characters.")]
    return []


def _check(
    integration: BaseIntegration,
    *,
    name: str,
    config: Mapping[str, Any],
    installation: Installation | None,
) -> _Checked:
    """Validate a name and raw configuration without writing anything."""
    if not isinstance(config, Mapping):
        raise validation_error(
            "The configuration must be an object.", [FieldError("config", "Expected an object.")]
        )
    name = (name or "").strip()
    errors = _name_errors(name)
    allowed = set(integration.config_keys())
    errors += [
        FieldError(key, f"'{key}' is not a setting of {integration.name}.")
        for key in sorted(set(config) - allowed)
    ]
    form = integration.form(data=config, installation=installation)
    if not form.is_valid():
        errors += [
            FieldError(key, str(message))
            for key, messages in form.errors.items()
            for message in messages
        ]
    if errors:
        raise validation_error(f"The {integration.name} installation is not valid.", errors)

    prepared = integration.prepare(form.cleaned_data, installation=installation, now=timezone.now())
    unique_key = integration.unique_key(prepared.config)
    if unique_key and _taken(unique_key, installation):
        raise _already_installed(integration)
    return _Checked(name, prepared, unique_key)


def _taken(unique_key: str, installation: Installation | None) -> bool:
    others = Installation.objects.filter(unique_key=unique_key)
    if installation is not None:
        others = others.exclude(pk=installation.pk)
    return others.exists()


def _already_installed(integration: BaseIntegration) -> ApplicationError:
    field_name = integration.unique_field or "config"
    return ApplicationError(
        detail=f"This {integration.name} {field_name.replace('_', ' ')} is already installed.",
        code="already_installed",
        status=409,
        errors=[FieldError(field_name, "Already installed in this organisation.")],
    )


def _visible_config(integration: BaseIntegration, config: dict) -> dict:
    """The configuration keys a person entered: what audit rows may show."""
    keys = [k for k in integration.config_keys() if k not in integration.secret_fields]
    return {k: config.get(k) for k in keys if k in config}


def installation_check(
    *,
    integration: str,
    name: str,
    config: Mapping[str, Any],
    installation: Installation | None = None,
) -> None:
    """Raise the errors `installation_create`/`_update` would raise; write nothing."""
    _check(_integration(integration), name=name, config=config, installation=installation)


def installation_create(
    *, integration: str, name: str, config: Mapping[str, Any], actor: Actor
) -> InstallationResult:
    """Install an integration in the active organisation."""
    found = _integration(integration)
    checked = _check(found, name=name, config=config, installation=None)
    prepared = checked.prepared

    try:
        with transaction.atomic():
            installation = Installation.objects.create(
                integration=found.key,
                name=checked.name,
                config=prepared.config,
                secrets_encrypted=encrypt_secrets(prepared.secrets),
                unique_key=checked.unique_key,
                created_by=actor.label,
                updated_by=actor.label,
            )
            audit_record(
                actor=actor,
                action="installation.created",
                target=installation,
                changes={
                    "integration": found.key,
                    "name": checked.name,
                    "config": _visible_config(found, prepared.config),
                    "secrets_set": sorted([*prepared.secrets, *prepared.one_time]),
                },
            )
    except IntegrityError as exc:
        raise _already_installed(found) from exc

    logger.info(
        "installation_created",
        extra={"installation": str(installation.pk), "integration": found.key},
    )
    return InstallationResult(installation, prepared.one_time)


def installation_update(
    *, installation: Installation, name: str, config: Mapping[str, Any], actor: Actor
) -> Installation:
    """Change an installation's name and configuration; blank secrets keep their values."""
    found = _integration(installation.integration)

    try:
        with transaction.atomic():
            installation = Installation.objects.select_for_update().get(pk=installation.pk)
            checked = _check(found, name=name, config=config, installation=installation)
            prepared = checked.prepared
            before = {"name": installation.name, **_visible_config(found, installation.config)}
            after = {"name": checked.name, **_visible_config(found, prepared.config)}
            changes: dict[str, Any] = {
                key: [before.get(key), value]
                for key, value in after.items()
                if before.get(key) != value
            }
            if prepared.secrets_changed:
                changes["secrets_replaced"] = sorted(prepared.secrets_changed)

            installation.name = checked.name
            installation.config = prepared.config
            installation.secrets_encrypted = encrypt_secrets(prepared.secrets)
            installation.unique_key = checked.unique_key
            installation.updated_by = actor.label
            installation.save(
                update_fields=[
                    "name",
                    "config",
                    "secrets_encrypted",
                    "unique_key",
                    "updated_by",
                    "updated_at",
                ]
            )
            audit_record(
                actor=actor, action="installation.updated", target=installation, changes=changes
            )
    except IntegrityError as exc:
        raise _already_installed(found) from exc

    logger.info(
        "installation_updated",
        extra={"installation": str(installation.pk), "fields": sorted(changes)},
    )
    return installation


def installation_set_active(
    *, installation: Installation, is_active: bool, actor: Actor
) -> Installation:
    """Enable or disable: a disabled source refuses what it is sent, a disabled
    destination gets no new deliveries."""
    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(pk=installation.pk)
        if installation.is_active == is_active:
            return installation
        installation.is_active = is_active
        installation.updated_by = actor.label
        installation.save(update_fields=["is_active", "updated_by", "updated_at"])
        audit_record(
            actor=actor,
            action="installation.enabled" if is_active else "installation.disabled",
            target=installation,
            changes={"is_active": [not is_active, is_active]},
        )

    logger.info(
        "installation_active_set",
        extra={"installation": str(installation.pk), "is_active": is_active},
    )
    return installation


def installation_delete(*, installation: Installation, actor: Actor) -> None:
    """Delete an installation with what hangs off it (its purchases, deliveries to it)."""
    installation_id = str(installation.pk)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="installation.deleted",
            target=installation,
            changes={"integration": installation.integration, "name": installation.name},
        )
        installation.delete()

    logger.info("installation_deleted", extra={"installation": installation_id})


def installation_rotate_secret(
    *, installation: Installation, actor: Actor, value: str = ""
) -> InstallationResult:
    """Replace the installation's secret: a new Shopify signing secret (`value`; the
    previous one stays valid for the grace period) or a newly generated API key."""
    found = _integration(installation.integration)
    if found.rotation_label is None:
        raise ApplicationError(
            detail=f"{found.name} installations have no secret to rotate.",
            code="rotation_not_supported",
        )

    with transaction.atomic():
        installation = Installation.objects.select_for_update().get(pk=installation.pk)
        prepared = found.rotate(installation, value, now=timezone.now())
        installation.config = prepared.config
        installation.secrets_encrypted = encrypt_secrets(prepared.secrets)
        installation.updated_by = actor.label
        installation.save(update_fields=["config", "secrets_encrypted", "updated_by", "updated_at"])
        audit_record(
            actor=actor,
            action="installation.secret_rotated",
            target=installation,
            changes={"secrets_replaced": sorted(prepared.secrets_changed)},
        )

    logger.info(
        "installation_secret_rotated",
        extra={"installation": str(installation.pk), "secrets": prepared.secrets_changed},
    )
    return InstallationResult(installation, prepared.one_time)


def installations_reencrypt(*, actor: Actor) -> int:
    """Re-encrypt every installation's secrets under the first key (active schema)."""
    count = 0
    with transaction.atomic():
        installations = Installation.objects.select_for_update().exclude(secrets_encrypted="")
        for installation in installations:
            installation.secrets_encrypted = reencrypt(installation.secrets_encrypted)
            installation.save(update_fields=["secrets_encrypted"])
            count += 1
        if count:
            audit_record(
                actor=actor,
                action="installations.secrets_reencrypted",
                target_label="installations",
                changes={"count": count},
            )
    return count
