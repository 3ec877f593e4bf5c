"""The public site: landing, sign-up and the operators' admin."""

from django.contrib import admin
from django.urls import path

from tenants import views

admin.site.site_header = "Analytics operations"
admin.site.site_title = "Analytics operations"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("signup/", views.signup, name="signup"),
    path("signup/done/", views.signup_done, name="signup_done"),
    path("admin/", admin.site.urls),
]

handler500 = "tenants.views.server_error"
