"""Fixtures of the catalog tests: installations made through the service, a viewer, and
a fake Mixpanel receiver on loopback."""

import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django_tenants.utils import tenant_context

from accounts.actors import Actor
from accounts.models import Member, Role
from catalog_integrations.services import installation_create

# Ports this test suite may serve on (loopback only).
PORT_RANGE = range(18200, 18300)

SHOP_SECRET = "shpss_acme-signing-secret-0001"
MIXPANEL_SECRET = "mp-api-secret-acme-0001"


def install(org, integration: str, name: str, config: dict):
    """Install through the service in `org`, as its admin; returns the service result."""
    with tenant_context(org.organisation):
        return installation_create(
            integration=integration, name=name, config=config, actor=Actor.member(org.admin)
        )


def shopify_config(shop: str = "acme-shop", secret: str = SHOP_SECRET, **extra) -> dict:
    return {"shop_domain": f"{shop}.myshopify.com", "webhook_secret": secret, **extra}


def mixpanel_config(**extra) -> dict:
    return {"project_token": "tok-acme", "api_secret": MIXPANEL_SECRET, "region": "eu", **extra}


@pytest.fixture
def viewer(acme):
    with tenant_context(acme.organisation):
        return Member.objects.create_user(
            email="viewer@acme.test", password="viewer-password-123", role=Role.VIEWER
        )


@dataclass
class FakeReceiver:
    """A local HTTP server that records requests and answers what a test tells it to."""

    url: str = ""
    status: int = 200
    body: dict = field(default_factory=lambda: {"code": 200, "status": "OK"})
    requests: list[dict] = field(default_factory=list)


def _free_port() -> int:
    for port in PORT_RANGE:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("No free port in 18200-18299.")


@pytest.fixture
def fake_mixpanel(settings):
    receiver = FakeReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            receiver.requests.append(
                {
                    "path": self.path,
                    "authorization": self.headers.get("Authorization", ""),
                    "body": self.rfile.read(length),
                }
            )
            payload = json.dumps(receiver.body).encode()
            self.send_response(receiver.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", _free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_port}"
    settings.MIXPANEL_CUSTOM_HOSTS = [receiver.url]
    yield receiver
    server.shutdown()
    server.server_close()
