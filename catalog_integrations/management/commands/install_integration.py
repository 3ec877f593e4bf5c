import json

from django_tenants.utils import tenant_context

from accounts.actors import Actor
from accounts.errors import ApplicationError, FieldError
from accounts.management.base import JsonCommand
from catalog_integrations.services import installation_create
from tenants.models import Organisation


class Command(JsonCommand):
    help = "Install an integration in an organisation (the API key, if any, is shown once)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--organisation", required=True, help="The organisation's slug.")
        parser.add_argument("--integration", required=True, help="shopify, api, mixpanel, ...")
        parser.add_argument("--name", required=True)
        parser.add_argument("--config", default="{}", help="The configuration as JSON.")

    def run(self, **options) -> dict:
        organisation = Organisation.objects.clients().filter(slug=options["organisation"]).first()
        if organisation is None:
            raise ApplicationError(
                detail=f"There is no organisation '{options['organisation']}'.",
                code="organisation_not_found",
                status=404,
            )
        config = _parse_config(options["config"])

        with tenant_context(organisation):
            result = installation_create(
                integration=options["integration"],
                name=options["name"],
                config=config,
                actor=Actor.system("install_integration"),
            )
            installation = result.installation
            integration = result.integration
            output = {
                "installation_id": str(installation.pk),
                "integration": installation.integration,
                "name": installation.name,
            }
            if integration.is_source:
                output["ingest_url"] = integration.ingest_url(installation, slug=organisation.slug)
            output.update(result.one_time)
        return output


def _parse_config(raw: str) -> dict:
    try:
        config = json.loads(raw)
    except ValueError as exc:
        raise ApplicationError(
            detail="--config is not valid JSON.",
            code="invalid_config",
            errors=[FieldError("config", str(exc))],
        ) from exc
    if not isinstance(config, dict):
        raise ApplicationError(
            detail="--config must be a JSON object.",
            code="invalid_config",
            errors=[FieldError("config", "Expected an object.")],
        )
    return config
