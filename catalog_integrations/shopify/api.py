"""Shopify webhooks: `POST /api/v1/integrations/shopify/{installation_id}/webhooks`.

In this order: the installation (unknown or disabled: 404, except that the compliance
topics still reach a disabled one); the body's size; the signature, an HMAC-SHA256 of
the raw bytes in base64 with the current or previous secret, compared in constant
time, and the shop domain (401, nothing stored); then the topic. Headers are read with
and without their `X-` prefix. The answer comes as soon as the rows are written:
nothing here calls a destination.
"""

import base64
import hashlib
import hmac
import logging

from django.http import HttpResponse
from ninja import Router, Schema

from accounts.actors import Actor
from accounts.errors import FieldError, validation_error
from catalog_integrations.ingest_http import body_read, json_content_type_require, json_parse
from catalog_integrations.models import Installation
from catalog_integrations.services import installation_set_active
from catalog_integrations.sources import IngestSource, SourceChanged, receive_from_source
from config.api import error_response, error_responses
from events.ingest import InvalidField, RawReceipt, require_object
from events.services.compliance import compliance_request_record
from events.services.purchases import purchase_record

from .integration import COMPLIANCE_TOPICS
from .parsing import parse_cancellation, parse_customer_request, parse_order, parse_refund
from .secrets import valid_webhook_secrets

logger = logging.getLogger(__name__)

router = Router()

DEFAULT_PURCHASE_TOPIC = "orders/paid"
REFUNDS_TOPIC = "refunds/create"
CANCELLED_TOPIC = "orders/cancelled"
UNINSTALLED_TOPIC = "app/uninstalled"


class WebhookAnswer(Schema):
    status: str


def _answer(status: str) -> HttpResponse:
    """The 200 `WebhookAnswer`, written out: its one field is a word of ours, so there is
    nothing for ninja to validate, and on this path its rendering cost more than the
    HMAC."""
    return HttpResponse(
        b'{"status": "' + status.encode("ascii") + b'"}',
        content_type="application/json; charset=utf-8",
    )


def _header(request, name: str) -> str:
    """`X-Shopify-<name>`, or Shopify's newer unprefixed `Shopify-<name>`."""
    return request.headers.get(f"X-Shopify-{name}") or request.headers.get(f"Shopify-{name}") or ""


def signature_valid(body: bytes, presented: str, secrets: list[str]) -> bool:
    """Whether `presented` is the base64 HMAC-SHA256 of `body` under any of `secrets`."""
    try:
        presented_bytes = presented.strip().encode("ascii")
    except UnicodeEncodeError:
        return False
    if not presented_bytes:
        return False
    matched = False
    for secret in secrets:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        # Every secret is tried, so timing says nothing about which one matched.
        matched |= hmac.compare_digest(base64.b64encode(digest), presented_bytes)
    return matched


def _authentic(request, body: bytes, installation: Installation) -> bool:
    shop_domain = str(installation.config.get("shop_domain") or "").lower()
    presented_domain = _header(request, "Shop-Domain").strip().lower()
    signed = signature_valid(
        body, _header(request, "Hmac-Sha256"), valid_webhook_secrets(installation)
    )
    return signed and bool(shop_domain) and hmac.compare_digest(presented_domain, shop_domain)


@router.post(
    "/{installation_id}/webhooks",
    auth=None,
    response={200: WebhookAnswer, **error_responses(400, 404, 413, 415)},
    summary="Receive a Shopify webhook",
)
def webhook_receive(request, installation_id: str):
    """Orders, refunds, cancellations, `app/uninstalled` and the compliance topics."""
    return receive_from_source(request, installation_id, "shopify", _receive)


def _receive(request, source: IngestSource | None):
    topic = _header(request, "Topic").strip()
    installation = source and source.installation
    if installation is None or not (installation.is_active or topic in COMPLIANCE_TOPICS):
        return error_response(request, status=404, detail="Not found.")
    body = body_read(request)
    if not _authentic(request, body, installation):
        if source.remembered:
            raise SourceChanged(str(installation.pk))
        logger.info("shopify_webhook_unauthenticated", extra={"installation": str(installation.pk)})
        return error_response(
            request,
            status=401,
            detail="The webhook signature is not valid.",
            code="invalid_signature",
        )
    json_content_type_require(request)
    try:
        payload = require_object(json_parse(body), "body")
    except InvalidField as problem:
        raise validation_error(
            "The webhook body must be a JSON object.", [problem.as_field_error()]
        ) from None

    delivery = _Delivery(request, source, topic, body, payload)
    return _answer(delivery.handle())


class _Delivery:
    """One authenticated webhook, routed by topic."""

    def __init__(self, request, source: IngestSource, topic: str, body: bytes, payload: dict):
        self.organisation = request.tenant
        self.source = source
        self.installation = installation = source.installation
        self.topic = topic
        self.body = body
        self.payload = payload
        self.webhook_id = _header(request, "Webhook-Id").strip()[:255] or None
        self.event_id = _header(request, "Event-Id").strip()[:255] or self.webhook_id or ""
        self.actor = Actor.installation(installation)
        config = installation.config
        self.purchase_topic = config.get("purchase_topic") or DEFAULT_PURCHASE_TOPIC
        self.include_test_orders = bool(config.get("include_test_orders"))

    def handle(self) -> str:
        if self.source.remembered and self.topic not in (
            self.purchase_topic,
            REFUNDS_TOPIC,
            CANCELLED_TOPIC,
        ):
            # Only a checked write may rest on a remembered source.
            raise SourceChanged(str(self.installation.pk))
        if self.topic in COMPLIANCE_TOPICS:
            self._require_body_of_this_shop("shop_domain")
            return self._compliance()
        if self.topic == self.purchase_topic:
            return self._purchase()
        if self.topic == REFUNDS_TOPIC:
            return self._refund()
        if self.topic == CANCELLED_TOPIC:
            return self._cancellation()
        if self.topic == UNINSTALLED_TOPIC:
            self._require_body_of_this_shop("myshopify_domain", "domain")
            installation_set_active(
                installation=self.installation, is_active=False, actor=self.actor
            )
            return "disabled"
        return self._ignored()

    def _require_body_of_this_shop(self, *keys: str) -> None:
        """Shopify signs the body but not the topic header: a topic that erases or disables
        needs a body naming this shop, so a captured order (or one shopper's redaction)
        replayed under another topic erases nothing. 422, nothing written."""
        shop_domain = str(self.installation.config.get("shop_domain") or "").lower()
        named = {str(self.payload.get(key) or "").strip().lower() for key in keys}
        problem = None
        if not shop_domain or shop_domain not in named:
            problem = FieldError(keys[0], "Must be this installation's shop domain.")
        elif self.topic == "shop/redact" and "customer" in self.payload:
            problem = FieldError("customer", "A shop/redact request names no customer.")
        if problem:
            raise validation_error("The webhook body does not fit its topic.", [problem])

    def _ignored(self) -> str:
        if self.source.remembered:
            raise SourceChanged(str(self.installation.pk))
        return "ignored"

    def _receipt(self, *, order_id: str = "", external_customer_id: str = "", keep_body=True):
        return RawReceipt(
            topic=self.topic,
            body=self.body if keep_body else None,
            webhook_id=self.webhook_id,
            order_id=order_id,
            external_customer_id=external_customer_id,
        )

    def _record(self, events, *, receipt: RawReceipt, status_change=None) -> str:
        result = purchase_record(
            organisation=self.organisation,
            source=self.source,
            events=events,
            receipt=receipt,
            status_change=status_change,
            actor=self.actor,
        )
        if result.duplicate_delivery:
            return "duplicate"
        return "recorded" if result.created or result.status_updated else "unchanged"

    def _purchase(self) -> str:
        event = parse_order(self.payload, event_id=self.event_id)
        if event.is_test and not self.include_test_orders:
            return self._ignored()
        receipt = self._receipt(
            order_id=event.order_id, external_customer_id=event.external_customer_id
        )
        return self._record([event], receipt=receipt)

    def _refund(self) -> str:
        event = parse_refund(self.payload, event_id=self.event_id)
        if event is None or (event.is_test and not self.include_test_orders):
            return self._ignored()
        return self._record([event], receipt=self._receipt(order_id=event.order_id))

    def _cancellation(self) -> str:
        cancellation = parse_cancellation(self.payload, event_id=self.event_id)
        if cancellation.is_test and not self.include_test_orders:
            return self._ignored()
        receipt = self._receipt(
            order_id=cancellation.status_change.order_id,
            external_customer_id=cancellation.external_customer_id,
        )
        return self._record(
            cancellation.refunds, receipt=receipt, status_change=cancellation.status_change
        )

    def _compliance(self) -> str:
        request = parse_customer_request(self.payload, whole_shop=self.topic == "shop/redact")
        # The request's own body names the shopper: it is not kept.
        result = compliance_request_record(
            organisation=self.organisation,
            installation=self.installation,
            topic=self.topic,
            external_customer_id=request.external_customer_id,
            order_ids=request.order_ids,
            request_id=request.request_id,
            receipt=self._receipt(keep_body=False),
            actor=self.actor,
        )
        return "duplicate" if result.duplicate_delivery else "recorded"
