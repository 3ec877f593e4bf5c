"""`make run`: migrate, make sure the demo organisation exists, serve the web and a worker.

This process holds the embedded database's first handle (when DATABASE_URL is unset)
for as long as it runs, so the server it starts outlives the web and worker children
and stops once they and this process have exited.
"""

import json
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from accounts.actors import Actor
from tenants.models import Organisation
from tenants.services import organisation_create

DEMO_SLUG = "demo"
DEMO_EMAIL = "admin@demo.localhost"


class Command(BaseCommand):
    help = "Run the product locally: migrations, demo organisation, web server and worker."

    def add_arguments(self, parser):
        parser.add_argument("--no-worker", action="store_true")

    def handle(self, *args, **options):
        call_command("migrate_schemas", shared=True, interactive=False, verbosity=0)
        call_command("migrate_schemas", interactive=False, verbosity=0)
        credentials = self._ensure_demo()

        port = settings.BASE_PORT or 8000
        children = [
            subprocess.Popen(  # noqa: S603 - our own manage.py, fixed arguments
                [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
            )
        ]
        if not options["no_worker"]:
            children.append(subprocess.Popen([sys.executable, "manage.py", "qcluster"]))  # noqa: S603
        time.sleep(1.5)
        self._banner(credentials)
        self._wait(children)

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

    def _banner(self, credentials: dict) -> None:
        base = settings.BASE_URL
        scheme, host = base.split("://", 1)
        lines = [
            "",
            "  The platform is running.",
            f"  Demo portal:  {scheme}://{DEMO_SLUG}.{host}/",
            f"  Sign in as:   {credentials['admin_email']}",
            f"  Password:     {credentials['admin_password']}",
            f"  Public site:  {base}/  (sign up a new organisation)",
            "  Stop with Ctrl-C.",
            "",
        ]
        self.stdout.write("\n".join(lines))

    def _wait(self, children) -> None:
        def stop(*_):
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        finally:
            stop()
            deadline = time.time() + 10
            for child in children:
                try:
                    child.wait(max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    child.kill()
        sys.exit(0 if all(c.returncode in (0, -15) for c in children) else 1)
