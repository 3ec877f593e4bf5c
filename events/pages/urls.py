"""The portal's pages of the events app, at the root of an organisation's host.

Included from config.urls under the `portal` namespace; `/` itself is the overview
(also named `home`).
"""

from django.urls import path

from . import overview, purchases, users

app_name = "portal"

urlpatterns = [
    path("", overview.overview, name="overview"),
    path("activity/", overview.activity, name="activity"),
    path("purchases/", purchases.purchase_list, name="purchases"),
    path("purchases/<uuid:purchase_id>/", purchases.purchase_detail, name="purchase"),
    path("held/", purchases.held_list, name="held"),
    path("held/<uuid:purchase_id>/link/", purchases.held_link, name="held_link"),
    path("users/", users.user_list, name="users"),
    path("users/<uuid:user_id>/", users.user_detail, name="user"),
]
