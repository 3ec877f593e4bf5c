from django_tenants.utils import tenant_context

from accounts.actors import Actor
from accounts.management.base import JsonCommand
from catalog_integrations.services import installations_reencrypt
from tenants.models import Organisation


class Command(JsonCommand):
    help = (
        "Re-encrypt every installation's secrets in every organisation under the first "
        "key of FIELD_ENCRYPTION_KEYS. Run after putting a new key first; then the old "
        "keys can be removed."
    )

    def run(self, **options) -> dict:
        actor = Actor.system("rotate_encryption_keys")
        total = 0
        for organisation in Organisation.objects.clients():
            with tenant_context(organisation):
                total += installations_reencrypt(actor=actor)
        return {"reencrypted": total}
