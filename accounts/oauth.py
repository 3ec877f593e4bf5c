"""The token endpoint's rules for the organisation's API clients.

django-oauth-toolkit runs `/o/token/` and `/o/revoke_token/` in the schema of the
host's organisation, so an application (and its credentials) exists in one
organisation only. This validator adds what the toolkit's model cannot hold: a revoked
client cannot authenticate, and a client gets only the scopes it was granted.
"""

from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import get_scopes_backend

from .models import ApiClient


def _api_client(application, request) -> ApiClient | None:
    """The application's live API client, looked up once per token request."""
    cached = getattr(request, "_api_client", None)
    if cached is not None and cached.pk == application.pk:
        return cached
    found = ApiClient.objects.filter(application=application, revoked_at__isnull=True).first()
    request._api_client = found
    return found


class ApiClientOAuth2Validator(OAuth2Validator):
    def _load_application(self, client_id, request):
        application = super()._load_application(client_id, request)
        if application is None:
            return None
        if _api_client(application, request) is None:
            # Revoked, or an application that was never an API client: invalid_client.
            request.client = None
            return None
        return application

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        api_client = _api_client(client, request)
        if api_client is None:
            return False
        known = set(get_scopes_backend().get_all_scopes())
        return set(scopes) <= known & set(api_client.scopes)

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        # Asking for no scope grants every scope the client was given.
        api_client = _api_client(request.client, request)
        return list(api_client.scopes) if api_client is not None else []
