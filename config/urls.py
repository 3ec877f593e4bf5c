"""An organisation's host: the portal, sign-in, OAuth2 and the API."""

from django.urls import include, path

from accounts import views as account_views
from config.api import api

urlpatterns = [
    path("accounts/", include("allauth.urls")),
    path("api/v1/", api.urls),
    path("", account_views.home, name="home"),
]
