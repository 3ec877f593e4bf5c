import uuid

from django.db import models
from django.utils import timezone


class Installation(models.Model):
    """One organisation's configured instance of an integration.

    `integration` is the registry key (`shopify`, `api`, `mixpanel`, ...). Non-secret
    settings live in `config`; secrets only ever as ciphertext in `secrets_encrypted`
    (see `catalog_integrations.crypto`). Integration packages own no tables: whatever
    they keep lives here.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    integration = models.CharField(max_length=64, db_index=True)
    name = models.CharField(max_length=200)
    config = models.JSONField(default=dict, blank=True)
    secrets_encrypted = models.TextField(blank=True, default="")
    # A value the integration says may be installed once per organisation
    # (Shopify: the shop domain); null when it has none.
    unique_key = models.CharField(max_length=255, null=True, blank=True, unique=True)
    is_active = models.BooleanField(default=True)
    # Destinations whose credentials were refused stop sending until resumed.
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    created_by = models.CharField(max_length=255, blank=True)
    updated_by = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["integration", "name"]

    def __str__(self):
        return f"{self.name} ({self.integration})"
