from django.urls import path

from . import views

app_name = "integrations"

urlpatterns = [
    path("", views.catalog, name="catalog"),
    path("<slug:key>/install/", views.install, name="install"),
    path("<slug:key>/install/check/", views.install_check, name="install_check"),
    path("installations/<uuid:pk>/", views.detail, name="detail"),
    path("installations/<uuid:pk>/edit/", views.edit, name="edit"),
    path("installations/<uuid:pk>/edit/check/", views.edit_check, name="edit_check"),
    path("installations/<uuid:pk>/active/", views.set_active, name="set_active"),
    path("installations/<uuid:pk>/delete/", views.delete, name="delete"),
    path("installations/<uuid:pk>/rotate/", views.rotate, name="rotate"),
    path("installations/<uuid:pk>/test/", views.test_connection, name="test_connection"),
]
