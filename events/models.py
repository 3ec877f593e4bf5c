import uuid

from django.contrib.postgres.indexes import OpClass
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from catalog_integrations.models import Installation

from .fields import CompressedBinaryField


class Customer(models.Model):
    """One of the organisation's shoppers: a "user" of the users API (not a Member)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.EmailField(null=True, blank=True)
    name = models.CharField(max_length=200, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="customer_email_unique_ci"),
        ]
        indexes = [
            # The portal's users list (newest first) and its search by email prefix.
            models.Index(fields=["-created_at", "-id"], name="customer_newest"),
            models.Index(
                OpClass(Lower("email"), name="text_pattern_ops"), name="customer_email_prefix"
            ),
        ]

    def __str__(self):
        return self.email or str(self.id)


class Identity(models.Model):
    """A user's id on one source installation; unique per installation."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    installation = models.ForeignKey(
        Installation, on_delete=models.CASCADE, related_name="identities"
    )
    external_id = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["installation", "external_id"], name="identity_unique_per_installation"
            ),
        ]
        # The portal's user search by a platform id, whatever the installation.
        indexes = [models.Index(fields=["external_id"], name="identity_external_id")]

    def __str__(self):
        return f"{self.installation_id}:{self.external_id}"


class PurchaseKind(models.TextChoices):
    PURCHASE = "purchase", "Purchase"
    REFUND = "refund", "Refund"


class Purchase(models.Model):
    """A normalised purchase event, or a refund stored as an adjustment of its purchase.

    `dedupe_key` makes recording idempotent per installation and kind: the order id for
    Shopify purchases, the refund id for refunds, `event_id` for the API integration.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Indexed by the unique constraint and the indexes that lead with it.
    installation = models.ForeignKey(
        Installation, on_delete=models.CASCADE, related_name="purchases", db_index=False
    )
    kind = models.CharField(max_length=16, choices=PurchaseKind.choices)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="adjustments"
    )
    dedupe_key = models.CharField(max_length=255)
    event_id = models.CharField(max_length=255, blank=True)
    order_id = models.CharField(max_length=255, blank=True)
    customer = models.ForeignKey(
        Customer,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="purchases",
        db_index=False,
    )
    external_customer_id = models.CharField(max_length=255, blank=True)
    amount = models.DecimalField(max_digits=20, decimal_places=6)
    currency = models.CharField(max_length=3)
    presentment_amount = models.DecimalField(max_digits=20, decimal_places=6, null=True, blank=True)
    presentment_currency = models.CharField(max_length=3, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=32, blank=True)
    is_test = models.BooleanField(default=False)
    items = models.JSONField(default=list, blank=True)
    properties = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["installation", "kind", "dedupe_key"], name="purchase_unique_per_source"
            ),
        ]
        # Each index is paid for on every purchase written, so none repeats another:
        # a key's leading column is not indexed again on its own, the newest-first
        # order reads `purchase_day_totals` backwards, and `order_id` is matched
        # exactly, never by prefix.
        indexes = [
            models.Index(fields=["installation", "-occurred_at"]),
            models.Index(fields=["customer", "-occurred_at"]),
            models.Index(fields=["order_id"], name="purchase_order"),
            # Purchases of shoppers no identity named yet: linking one finds them here.
            models.Index(
                fields=["installation", "external_customer_id"],
                name="purchase_unmatched_shopper",
                condition=models.Q(customer__isnull=True) & ~models.Q(external_customer_id=""),
            ),
            # The portal: the live feed (newest arrivals), the overview's per-day totals
            # read from the index alone, and purchases by a shopper's platform id.
            models.Index(fields=["-received_at"], name="purchase_newest_arrival"),
            models.Index(
                fields=["occurred_at"],
                include=["kind", "currency", "amount"],
                name="purchase_day_totals",
            ),
            models.Index(
                fields=["external_customer_id"],
                name="purchase_platform_shopper",
                condition=~models.Q(external_customer_id=""),
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.order_id or self.event_id} {self.amount} {self.currency}"


class DeliveryState(models.TextChoices):
    AWAITING_IDENTITY = "awaiting_identity", "Awaiting identity"
    PENDING = "pending", "Pending"
    IN_FLIGHT = "in_flight", "In flight"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    DEAD = "dead", "Dead"
    REJECTED = "rejected", "Rejected"


class Delivery(models.Model):
    """One purchase or adjustment to one destination installation: the outbox row."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Both indexed by the unique constraint and the indexes that lead with them.
    purchase = models.ForeignKey(
        Purchase, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    destination = models.ForeignKey(
        Installation, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    state = models.CharField(
        max_length=24, choices=DeliveryState.choices, default=DeliveryState.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    # Due time: for pending/failed the next try, for awaiting_identity the hold's end.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Fixed when first released, so every resend is the same event downstream.
    distinct_id = models.CharField(max_length=255, null=True, blank=True)
    event_time = models.DateTimeField(null=True, blank=True)
    insert_id = models.CharField(max_length=36)
    last_error = models.TextField(blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["purchase", "destination"], name="delivery_unique_per_destination"
            ),
        ]
        indexes = [
            models.Index(fields=["destination", "state", "next_attempt_at"]),
            models.Index(fields=["state", "next_attempt_at"]),
            # The overview's delivery success per destination, read from the index alone.
            models.Index(
                fields=["created_at"], include=["destination", "state"], name="delivery_day_states"
            ),
        ]

    def __str__(self):
        return f"{self.purchase_id} -> {self.destination_id}: {self.state}"


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    outcome = models.CharField(max_length=24, choices=DeliveryState.choices)
    error = models.TextField(blank=True)
    response_excerpt = models.TextField(blank=True)

    class Meta:
        ordering = ["started_at", "id"]

    def __str__(self):
        return f"{self.delivery_id} @ {self.started_at:%H:%M:%S}: {self.outcome}"


class WebhookReceipt(models.Model):
    """A body a source sent, as it arrived.

    The webhook id (unique per installation) turns a redelivery into a no-op. The raw
    body serves investigation for `RAW_PAYLOAD_RETENTION_DAYS`; the row is then pruned.
    `order_id` and `external_customer_id` let a privacy request find the bodies that
    hold a shopper's data.
    """

    # Indexed by the unique constraint and `receipt_order`.
    installation = models.ForeignKey(
        Installation, on_delete=models.CASCADE, related_name="webhook_receipts", db_index=False
    )
    webhook_id = models.CharField(max_length=255, null=True, blank=True)
    topic = models.CharField(max_length=100, blank=True)
    body = CompressedBinaryField(null=True, blank=True)
    order_id = models.CharField(max_length=255, blank=True)
    external_customer_id = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["installation", "webhook_id"], name="webhook_receipt_unique_per_source"
            ),
        ]
        # A purchase's page shows the bodies its order arrived in.
        indexes = [models.Index(fields=["installation", "order_id"], name="receipt_order")]

    def __str__(self):
        return f"{self.topic} {self.webhook_id or self.pk}"


class ComplianceTopic(models.TextChoices):
    DATA_REQUEST = "customers/data_request", "Customer data request"
    CUSTOMER_REDACT = "customers/redact", "Customer redaction"
    SHOP_REDACT = "shop/redact", "Shop redaction"


class ComplianceRequest(models.Model):
    """A privacy request a platform passed on, kept after its raw body is pruned.

    Data requests wait for an admin to export the shopper's data (`completed_at` set
    then); redactions are carried out when they arrive.
    """

    installation = models.ForeignKey(
        Installation, on_delete=models.CASCADE, related_name="compliance_requests"
    )
    topic = models.CharField(max_length=64, choices=ComplianceTopic.choices)
    request_id = models.CharField(max_length=255, blank=True)
    external_customer_id = models.CharField(max_length=255, blank=True)
    order_ids = models.JSONField(default=list, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self):
        return f"{self.topic} {self.external_customer_id or self.installation_id}"
