"""An organisation's host: the portal, sign-in, OAuth2 and the API."""

from django.urls import include, path

from accounts import views as account_views

urlpatterns = [
    path("accounts/", include("allauth.urls")),
    path("", account_views.home, name="home"),
]
