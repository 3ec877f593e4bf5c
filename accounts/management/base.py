import json
import sys

from django.core.management.base import BaseCommand, CommandError

from accounts.errors import ApplicationError


class JsonCommand(BaseCommand):
    """A command that prints one JSON object with --json, and {detail, code} on failure."""

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print one JSON object.")

    def run(self, **options) -> dict:
        raise NotImplementedError

    def human(self, result: dict) -> str:
        return "\n".join(f"{key}: {value}" for key, value in result.items())

    def handle(self, *args, **options):
        try:
            result = self.run(**options)
        except ApplicationError as exc:
            self._fail(options, exc.detail, exc.code, exc.errors)
        except CommandError as exc:
            self._fail(options, str(exc), "command_error", [])
        if options["json"]:
            self.stdout.write(json.dumps(result))
        else:
            self.stdout.write(self.human(result))

    def _fail(self, options, detail, code, errors):
        if options["json"]:
            body = {"detail": detail, "code": code}
            if errors:
                body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
            self.stdout.write(json.dumps(body))
        else:
            self.stderr.write(f"{detail} ({code})")
            for error in errors:
                self.stderr.write(f"  {error.field}: {error.message}")
        sys.exit(1)
