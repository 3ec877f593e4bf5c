"""The accounts app's portal pages on an organisation's host."""

from django.urls import path

from . import api_client_views

app_name = "accounts"

urlpatterns = [
    path("api-clients/", api_client_views.api_clients, name="api_clients"),
    path("api-clients/new/", api_client_views.api_client_new, name="api_client_new"),
    path(
        "api-clients/<int:pk>/revoke/",
        api_client_views.api_client_revoke_view,
        name="api_client_revoke",
    ),
]
