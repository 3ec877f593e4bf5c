"""Which signing secrets a Shopify installation accepts right now.

Replacing the secret keeps the previous one valid for
`SHOPIFY_PREVIOUS_SECRET_GRACE_SECONDS`, so webhooks already signed with it (or sent
before the shop's app was switched over) still pass.
"""

from datetime import datetime

from django.utils import timezone

from catalog_integrations.crypto import read_secrets

SECRET = "webhook_secret"
PREVIOUS_SECRET = "previous_webhook_secret"
# Non-secret: when the previous secret stops being accepted (ISO 8601, UTC).
PREVIOUS_EXPIRES_KEY = "previous_secret_expires_at"


def previous_secret_expiry(installation) -> datetime | None:
    value = installation.config.get(PREVIOUS_EXPIRES_KEY)
    return datetime.fromisoformat(value) if value else None


def valid_webhook_secrets(installation, now: datetime | None = None) -> list[str]:
    """The secrets a webhook may be signed with: the current one first."""
    stored = read_secrets(installation)
    valid = [stored[SECRET]] if stored.get(SECRET) else []
    expires = previous_secret_expiry(installation)
    previous = stored.get(PREVIOUS_SECRET)
    if previous and expires is not None and (now or timezone.now()) < expires:
        valid.append(previous)
    return valid
