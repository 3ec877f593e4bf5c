"""`send_sample_webhooks --organisation demo`: post the signed Shopify samples locally."""

from django.core.management.base import CommandError
from django_tenants.utils import tenant_context

from accounts.management.base import JsonCommand
from catalog_integrations.models import Installation
from events.demo import demo_integrations_ensure, demo_users_ensure, demo_webhooks_send
from tenants.models import Organisation


class Command(JsonCommand):
    help = (
        "Post the Shopify sample webhooks to the local web server for an organisation's "
        "demo shop, re-signed with its secret and shop domain. The purchases then travel "
        "to the development Mixpanel receiver."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--organisation", required=True, help="The organisation's slug.")
        parser.add_argument(
            "--no-users",
            action="store_true",
            help="Do not link the samples' shoppers to users first (their purchases then "
            "wait for an identity for IDENTITY_HOLD_SECONDS).",
        )

    def run(self, **options) -> dict:
        organisation = Organisation.objects.clients().filter(slug=options["organisation"]).first()
        if organisation is None:
            raise CommandError(f"No organisation has the slug '{options['organisation']}'.")
        with tenant_context(organisation):
            demo = demo_integrations_ensure()
            shop = Installation.objects.get(pk=demo["shopify_installation_id"])
            users = 0 if options["no_users"] else demo_users_ensure(shop=shop)
        sent = demo_webhooks_send(organisation=organisation, shop=shop)
        return {
            "users_linked": users,
            "sent": [s.as_dict() for s in sent],
            "receiver_url": demo["receiver_url"],
        }

    def human(self, result: dict) -> str:
        lines = [f"{s['sample']} ({s['topic']}): HTTP {s['status']}" for s in result["sent"]]
        lines.append(f"Watch them arrive at {result['receiver_url']}/")
        return "\n".join(lines)
