from django_tenants.utils import tenant_context

from accounts.actors import Actor
from accounts.errors import ApplicationError
from accounts.management.base import JsonCommand
from accounts.services import api_client_create
from tenants.models import Organisation


class Command(JsonCommand):
    help = "Create an API client (OAuth2 client credentials) for an organisation."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--organisation", required=True, help="The organisation's slug.")
        parser.add_argument("--name", required=True)
        parser.add_argument("--scopes", nargs="+", required=True, metavar="SCOPE")

    def run(self, **options) -> dict:
        slug = options["organisation"].strip().lower()
        organisation = Organisation.objects.clients().filter(slug=slug).first()
        if organisation is None:
            raise ApplicationError(
                detail=f"No organisation '{slug}'.", code="organisation_not_found", status=404
            )
        with tenant_context(organisation):
            created = api_client_create(
                name=options["name"],
                scopes=options["scopes"],
                actor=Actor.system("create_api_client"),
            )
        return created.as_dict()

    def human(self, result: dict) -> str:
        return "\n".join(
            [
                f"client_id: {result['client_id']}",
                f"client_secret: {result['client_secret']}  (shown once: store it now)",
                f"scopes: {' '.join(result['scopes'])}",
            ]
        )
