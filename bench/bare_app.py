"""The baseline: a bare Django view doing the least an ingest endpoint must do.

It checks the Shopify HMAC of the raw body, parses the JSON and inserts one row, with
no middleware, no tenancy and no ORM model: what Django and PostgreSQL cost on this
machine before the product adds anything. Served by gunicorn exactly like the product
(`gunicorn bare_app:application`, sync workers, persistent database connections).
"""

import base64
import hashlib
import hmac
import json
import os
from urllib.parse import urlsplit

from django.conf import settings

SECRET = os.environ.get("BARE_SHOP_SECRET", "bench-shopify-secret").encode()
# Created by run.py before this app starts.
TABLE = "bench_bare_receipt"

_url = urlsplit(os.environ["DATABASE_URL"])
settings.configure(
    DEBUG=False,
    SECRET_KEY="bare-baseline",  # noqa: S106 - signs nothing
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    USE_TZ=True,
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _url.path.lstrip("/"),
            "USER": _url.username or "postgres",
            "HOST": _url.hostname,
            "PORT": str(_url.port or 5432),
            "CONN_MAX_AGE": 60,
        }
    },
)

import django  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.csrf import csrf_exempt  # noqa: E402

django.setup()


@csrf_exempt
def receive(request, installation_id):
    body = request.body
    digest = base64.b64encode(hmac.new(SECRET, body, hashlib.sha256).digest())
    presented = request.headers.get("X-Shopify-Hmac-Sha256", "").encode()
    if not hmac.compare_digest(digest, presented):
        return JsonResponse({"detail": "bad signature"}, status=401)
    order = json.loads(body)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {TABLE} (webhook_id, order_id) VALUES (%s, %s) "  # noqa: S608
            "ON CONFLICT (webhook_id) DO NOTHING",
            [request.headers.get("X-Shopify-Webhook-Id"), order["id"]],
        )
    return JsonResponse({"status": "recorded"})


urlpatterns = [path("api/v1/integrations/shopify/<str:installation_id>/webhooks", receive)]

application = get_wsgi_application()
