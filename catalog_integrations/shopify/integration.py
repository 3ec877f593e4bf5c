import re
from datetime import datetime, timedelta

from django import forms
from django.conf import settings

from accounts.errors import FieldError, validation_error
from catalog_integrations.base import (
    SOURCE,
    BaseIntegration,
    ConfigForm,
    Prepared,
    SecretState,
    Step,
    secret_field,
)
from catalog_integrations.crypto import read_secrets

from .secrets import PREVIOUS_EXPIRES_KEY, PREVIOUS_SECRET, SECRET, previous_secret_expiry

SHOP_DOMAIN_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,61}\.myshopify\.com$")
PURCHASE_TOPICS = [("orders/paid", "orders/paid"), ("orders/create", "orders/create")]
# Topics an installation subscribes to besides its purchase topic.
OTHER_TOPICS = ("refunds/create", "orders/cancelled", "app/uninstalled")
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")
# The webhook API version the parser is written against.
API_VERSION = "2025-10"


def normalise_shop_domain(value: str) -> str:
    value = value.strip().lower()
    for prefix in ("https://", "http://"):
        value = value.removeprefix(prefix)
    return value.rstrip("/")


class ShopifyForm(ConfigForm):
    shop_domain = forms.CharField(
        label="Shop domain",
        max_length=100,
        help_text="Your shop's myshopify.com address, e.g. example-shop.myshopify.com.",
    )
    webhook_secret = secret_field(
        "Webhook signing secret",
        "The app's client secret that Shopify signs webhooks with.",
    )
    purchase_topic = forms.ChoiceField(
        label="Purchase topic",
        choices=PURCHASE_TOPICS,
        initial="orders/paid",
        required=False,
        help_text="orders/paid counts paid orders; orders/create counts every order placed.",
    )
    include_test_orders = forms.BooleanField(
        label="Include test orders", required=False, initial=False
    )

    def clean_shop_domain(self) -> str:
        domain = normalise_shop_domain(self.cleaned_data["shop_domain"])
        if not SHOP_DOMAIN_RE.match(domain):
            raise forms.ValidationError(
                "Enter the shop's myshopify.com domain, like example-shop.myshopify.com."
            )
        return domain

    def clean_purchase_topic(self) -> str:
        return self.cleaned_data.get("purchase_topic") or "orders/paid"


class ShopifyIntegration(BaseIntegration):
    key = "shopify"
    name = "Shopify"
    description = (
        "Receives paid orders, refunds and cancellations from a Shopify store through "
        "signed webhooks, and records them as purchases."
    )
    kind = SOURCE
    config_form = ShopifyForm
    secret_fields = (SECRET,)
    required_secrets = (SECRET,)
    ingest_path_suffix = "webhooks"
    rotation_label = "Replace the signing secret"
    rotation_input_label = "New signing secret"
    api_version = API_VERSION

    unique_field = "shop_domain"

    def unique_key(self, config: dict) -> str:
        return f"shopify:{config['shop_domain']}"

    def prepare(self, cleaned, *, installation, now: datetime) -> Prepared:
        prepared = super().prepare(cleaned, installation=installation, now=now)
        if installation is not None:
            _keep_grace(prepared, installation)
            if SECRET in prepared.secrets_changed:
                _start_grace(prepared, read_secrets(installation).get(SECRET), now)
        return prepared

    def rotate(self, installation, value: str, *, now: datetime) -> Prepared:
        value = (value or "").strip()
        if not value:
            raise validation_error(
                "Enter the new signing secret.", [FieldError(SECRET, "Enter the new secret.")]
            )
        current = read_secrets(installation)
        prepared = Prepared(config=dict(installation.config), secrets=dict(current))
        if value != current.get(SECRET):
            prepared.secrets[SECRET] = value
            prepared.secrets_changed.append(SECRET)
            _start_grace(prepared, current.get(SECRET), now)
        return prepared

    def secret_states(self, installation) -> list[SecretState]:
        stored = read_secrets(installation)
        note = ""
        expires = previous_secret_expiry(installation)
        if stored.get(PREVIOUS_SECRET) and expires is not None:
            note = f"The previous secret is also accepted until {expires:%Y-%m-%d %H:%M} UTC."
        return [SecretState(SECRET, "Webhook signing secret", bool(stored.get(SECRET)), note)]

    def webhook_topics(self, installation) -> list[str]:
        purchase = installation.config.get("purchase_topic") or "orders/paid"
        return [purchase, *OTHER_TOPICS]

    def setup_steps(self, installation, ingest_url: str | None) -> list[Step]:
        shop = installation.config.get("shop_domain", "your shop")
        return [
            Step(
                f"In the Shopify admin of {shop} (Settings, Notifications, Webhooks) or in "
                "your app's configuration, create one webhook subscription for each topic:",
                tuple(self.webhook_topics(installation)),
            ),
            Step("Send every subscription to this URL:", value=ingest_url or ""),
            Step(
                f"Choose the JSON format and webhook API version {API_VERSION}.",
            ),
            Step(
                "For an app, also subscribe the compliance topics to the same URL "
                "(compliance_topics in shopify.app.toml):",
                COMPLIANCE_TOPICS,
            ),
            Step(
                "Enter the key Shopify signs these webhooks with (the admin's webhook "
                "signing key, or the app's client secret) as this installation's webhook "
                "signing secret. Webhooks with any other signature are refused."
            ),
        ]


def _keep_grace(prepared: Prepared, installation) -> None:
    """An edit that leaves the secret alone keeps a running grace period."""
    if PREVIOUS_EXPIRES_KEY in installation.config:
        prepared.config[PREVIOUS_EXPIRES_KEY] = installation.config[PREVIOUS_EXPIRES_KEY]


def _start_grace(prepared: Prepared, previous: str | None, now: datetime) -> None:
    if not previous:
        return
    grace = timedelta(seconds=settings.SHOPIFY_PREVIOUS_SECRET_GRACE_SECONDS)
    prepared.secrets[PREVIOUS_SECRET] = previous
    prepared.config[PREVIOUS_EXPIRES_KEY] = (now + grace).isoformat()
