"""`make run`: migrate, make sure the demo organisation exists, serve the web and a worker.

This process owns the session: with the embedded database it holds the only handle,
gives the web server and the worker the server's socket as `DATABASE_URL`, and stops
the database after them. The children run in sessions of their own, so Ctrl-C in the
terminal reaches only this process, which then stops each child's main process with
SIGTERM (a whole django-q2 process group hit by SIGINT hangs in "stopping").
"""

import io
import json
import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from accounts.actors import Actor
from config.embedded_db import embedded_database_url, stop_embedded_database
from tenants.models import Organisation
from tenants.services import organisation_create

DEMO_SLUG = "demo"
DEMO_EMAIL = "admin@demo.localhost"
# How long the web server and the worker get to stop before they are killed.
STOP_GRACE_SECONDS = 10


class Command(BaseCommand):
    help = "Run the product locally: migrations, demo organisation, web server and worker."

    def add_arguments(self, parser):
        parser.add_argument("--no-worker", action="store_true")

    def handle(self, *args, **options):
        try:
            call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
            call_command("migrate_schemas", interactive=False, verbosity=0)
            credentials = self._ensure_demo()
            demo = self._demo_integrations()
            self._serve(credentials, demo, worker=not options["no_worker"])
        finally:
            stop_embedded_database()

    def _serve(self, credentials: dict, demo: dict, *, worker: bool) -> None:
        env = dict(os.environ)
        database_url = embedded_database_url()
        if database_url:
            env["DATABASE_URL"] = database_url
        port = settings.BASE_PORT or 8000
        commands = [["runserver", f"127.0.0.1:{port}", "--noreload"]]
        if worker:
            commands.append(["qcluster"])
        children = [
            subprocess.Popen(  # noqa: S603 - our own manage.py, fixed arguments
                [sys.executable, "manage.py", *command], env=env, start_new_session=True
            )
            for command in commands
        ]
        children.append(self._receiver())
        stopping = []

        def stop(*_):
            stopping.append(True)

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        time.sleep(1.5)
        if not stopping:
            self._banner(credentials, demo)
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)
        self._stop(children)

    def _stop(self, children) -> None:
        self.stdout.write("Stopping the web server, the worker and the embedded database...")
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children:
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()

    def _ensure_demo(self) -> dict:
        path = settings.DATA_DIR_PATH / "demo-credentials.json"
        if Organisation.objects.filter(slug=DEMO_SLUG).exists() and path.exists():
            return json.loads(path.read_text())
        if Organisation.objects.filter(slug=DEMO_SLUG).exists():
            return {"admin_email": DEMO_EMAIL, "admin_password": "(set when it was created)"}
        result = organisation_create(
            slug=DEMO_SLUG,
            name="Demo Shop",
            admin_email=DEMO_EMAIL,
            actor=Actor.system("make run"),
        ).as_dict()
        path.write_text(json.dumps(result))
        path.chmod(0o600)
        return result

    def _demo_integrations(self) -> dict:
        """The demo shop, and its Mixpanel installation pointed at the local receiver."""
        out = io.StringIO()
        call_command("setup_demo_integrations", organisation=DEMO_SLUG, json=True, stdout=out)
        return json.loads(out.getvalue())

    def _receiver(self) -> subprocess.Popen:
        """The development Mixpanel receiver, on loopback, in a session of its own."""
        port = settings.DEV_MIXPANEL_RECEIVER_URL.rsplit(":", 1)[1]
        module = "catalog_integrations.mixpanel.receiver"
        return subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [sys.executable, "-m", module, "--port", port, "--quiet"], start_new_session=True
        )

    def _banner(self, credentials: dict, demo: dict) -> None:
        base = settings.BASE_URL
        scheme, host = base.split("://", 1)
        lines = [
            "",
            "  The platform is running.",
            f"  Demo portal:  {scheme}://{DEMO_SLUG}.{host}/",
            f"  Sign in as:   {credentials['admin_email']}",
            f"  Password:     {credentials['admin_password']}",
            f"  Public site:  {base}/  (sign up a new organisation)",
            f"  Demo shop:    {demo['shop_domain']}, webhook secret {demo['webhook_secret']}",
            f"  Mixpanel:     {demo['receiver_url']}/  (a local receiver: see what arrives)",
            "  Samples:      .venv/bin/python manage.py send_sample_webhooks --organisation demo",
            "  Stop with Ctrl-C.",
            "",
        ]
        self.stdout.write("\n".join(lines))
