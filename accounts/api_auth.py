"""Bearer authentication for the API on the OAuth2 tokens of `/o/token/`.

    from accounts.api_auth import OAuth2Bearer

    @router.get("/things", auth=OAuth2Bearer(scopes=["things:read"]))
    def thing_list(request):
        caller = request.auth  # accounts.selectors.ApiCaller: api_client, scopes, actor

The token is looked up in the schema of the host's organisation, so another
organisation's token is unknown here. Unknown, expired and revoked tokens get 401 in
the API's error body; a valid token without a required scope gets 403. With client
credentials `request.user` is empty: the caller is `request.auth`.
"""

from collections.abc import Iterable

from django.http import HttpRequest
from django.utils import timezone
from ninja.security.http import HttpAuthBase

from .errors import ApplicationError
from .selectors import ApiCaller, api_caller_for_token
from .services import api_client_record_use


class OAuth2Bearer(HttpAuthBase):
    openapi_scheme = "bearer"
    openapi_description = "An access token from POST /o/token/ (OAuth2 client credentials)."

    def __init__(self, scopes: Iterable[str] = ()) -> None:
        self.scopes = frozenset(scopes)
        super().__init__()

    def __call__(self, request: HttpRequest) -> ApiCaller | None:
        # Not ninja's HttpBearer: that one logs the whole header of a non-bearer
        # request, which may be someone's credentials.
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        return self.authenticate(request, token)

    def authenticate(self, request: HttpRequest, token: str) -> ApiCaller | None:
        now = timezone.now()
        caller = api_caller_for_token(token, now=now)
        if caller is None:
            return None
        missing = sorted(self.scopes - caller.scopes)
        if missing:
            raise ApplicationError(
                detail=f"This token lacks the scope {', '.join(missing)}.",
                code="insufficient_scope",
                status=403,
            )
        api_client_record_use(api_client=caller.api_client, now=now)
        return caller
