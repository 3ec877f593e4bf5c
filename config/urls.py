"""An organisation's host: the portal, sign-in, OAuth2 and the API."""

from django.urls import include, path
from oauth2_provider import views as oauth2_views

from config.api import api
from events.pages import overview as overview_pages

urlpatterns = [
    path("accounts/", include("allauth.urls")),
    path("api/v1/", api.urls),
    # OAuth2 client credentials only: the token and revocation endpoints, no other view.
    path("o/token/", oauth2_views.TokenView.as_view(), name="oauth2_token"),
    path("o/revoke_token/", oauth2_views.RevokeTokenView.as_view(), name="oauth2_revoke_token"),
    path("integrations/", include("catalog_integrations.urls")),
    path("deliveries/", include("events.urls")),
    path("", include("accounts.urls")),
    # The overview is the portal's home; the rest of the portal's pages follow it.
    path("", overview_pages.overview, name="home"),
    path("", include("events.pages.urls")),
]

handler500 = "tenants.views.server_error"
