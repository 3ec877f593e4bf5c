from django.db import models

from .actors import Actor
from .models import AuditEntry


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
