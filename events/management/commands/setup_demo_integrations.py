"""`setup_demo_integrations --organisation demo`: a shop and a local Mixpanel for the demo."""

from django.core.management.base import CommandError
from django_tenants.utils import tenant_context

from accounts.management.base import JsonCommand
from events.demo import demo_integrations_ensure
from tenants.models import Organisation


class Command(JsonCommand):
    help = (
        "Give an organisation a Shopify installation (its webhook secret printed) and a "
        "Mixpanel installation pointed at the development receiver. Made once."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--organisation", required=True, help="The organisation's slug.")

    def run(self, **options) -> dict:
        organisation = Organisation.objects.clients().filter(slug=options["organisation"]).first()
        if organisation is None:
            raise CommandError(f"No organisation has the slug '{options['organisation']}'.")
        with tenant_context(organisation):
            return demo_integrations_ensure()
