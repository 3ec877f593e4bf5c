"""Portal pages for deliveries, under `/deliveries/` (namespace `events`)."""

from django.urls import path

from . import views

app_name = "events"

urlpatterns = [
    path("", views.deliveries, name="deliveries"),
    path("stuck/", views.stuck, name="stuck"),
    path("paused-banner/", views.paused_banner, name="paused_banner"),
    path("purchases/<uuid:purchase_id>/", views.purchase_timeline, name="purchase"),
    path("<uuid:delivery_id>/retry/", views.delivery_retry, name="retry"),
    path(
        "destinations/<uuid:destination_id>/retry-failed/",
        views.destination_retry_failed,
        name="retry_failed",
    ),
    path("destinations/<uuid:destination_id>/resume/", views.destination_resume, name="resume"),
    path("destinations/<uuid:destination_id>/replay/", views.replay, name="replay"),
    path(
        "installations/<uuid:installation_id>/summary/",
        views.installation_summary,
        name="installation_summary",
    ),
]
