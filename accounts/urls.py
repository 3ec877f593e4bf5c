"""The accounts app's portal pages on an organisation's host."""

from django.urls import path

from . import api_client_views, views

app_name = "accounts"

urlpatterns = [
    path("api-clients/", api_client_views.api_clients, name="api_clients"),
    path("api-clients/new/", api_client_views.api_client_new, name="api_client_new"),
    path(
        "api-clients/<int:pk>/revoke/",
        api_client_views.api_client_revoke_view,
        name="api_client_revoke",
    ),
    path("team/", views.team, name="team"),
    path("team/invite/", views.member_invite, name="member_invite"),
    path("team/<int:pk>/role/", views.member_role, name="member_role"),
    path("team/<int:pk>/remove/", views.member_remove, name="member_remove"),
    path("audit/", views.audit_log, name="audit_log"),
]
