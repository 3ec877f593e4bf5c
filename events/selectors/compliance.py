"""Reads for privacy requests: what is held about a shopper, and requests still open."""

from uuid import UUID

from django.db.models import Q, QuerySet

from ..models import ComplianceRequest, ComplianceTopic, Customer, Identity, Purchase


def shopper_data(*, installation_id: UUID, external_customer_id: str, order_ids=()) -> dict:
    """What this organisation holds about one shopper of one source, for a data request:
    the user their identity names, and their purchases and refunds there."""
    identity = (
        Identity.objects.filter(installation_id=installation_id, external_id=external_customer_id)
        .select_related("customer")
        .first()
    )
    customer: Customer | None = identity.customer if identity else None
    about = Q(order_id__in=list(order_ids))
    if external_customer_id:
        about |= Q(external_customer_id=external_customer_id)
    purchases = Purchase.objects.filter(about, installation_id=installation_id)
    return {
        "external_customer_id": external_customer_id,
        "user": None
        if customer is None
        else {
            "id": str(customer.pk),
            "email": customer.email,
            "name": customer.name,
            "properties": customer.properties,
        },
        "purchases": [
            {
                "id": str(p.pk),
                "kind": p.kind,
                "order_id": p.order_id,
                "amount": str(p.amount),
                "currency": p.currency,
                "occurred_at": p.occurred_at.isoformat(),
                "status": p.status,
                "items": p.items,
            }
            for p in purchases.order_by("occurred_at", "id")
        ],
    }


def compliance_requests_open() -> QuerySet[ComplianceRequest]:
    """Data requests not yet answered, oldest first."""
    return ComplianceRequest.objects.filter(
        topic=ComplianceTopic.DATA_REQUEST, completed_at__isnull=True
    ).order_by("received_at", "id")
