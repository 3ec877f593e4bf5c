from accounts.actors import Actor
from accounts.management.base import JsonCommand
from tenants.services import organisation_create


class Command(JsonCommand):
    help = "Provision an organisation with its schema, domain and first admin."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-password")

    def run(self, **options) -> dict:
        provisioned = organisation_create(
            slug=options["slug"],
            name=options["name"],
            admin_email=options["admin_email"],
            admin_password=options["admin_password"],
            actor=Actor.system("create_organisation"),
        )
        return provisioned.as_dict()
