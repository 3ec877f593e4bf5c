import hmac
from uuid import UUID

from django.shortcuts import get_object_or_404
from ninja import Router

from catalog_integrations.crypto import read_secrets
from catalog_integrations.models import Installation
from config.api import error_response

router = Router()


@router.post("/{installation_id}/pings", auth=None)
def ping(request, installation_id: UUID):
    installation = get_object_or_404(
        Installation, pk=installation_id, integration="ping", is_active=True
    )
    presented = request.headers.get("Authorization", "").removeprefix("Bearer ")
    token = read_secrets(installation).get("token", "")
    if not presented or not hmac.compare_digest(presented, token):
        return error_response(request, status=401, detail="A valid token is required.")
    return {"installation_id": str(installation.pk), "pong": True}
