"""What an integration is. One sub-package of `catalog_integrations` per integration.

A package declares one `BaseIntegration` subclass in its `integration.py`; the registry
finds it at start-up. A package may also have:

- `api.py` exposing `router` (a ninja Router): mounted by the registry under
  `/api/v1/integrations/<key>/`. Sources receive what the platform sends there.
- `client.py` (destinations): `client(installation)` imports it lazily and calls its
  `build_client(installation)`, or else its `Client(installation)`; the result has
  `send(deliveries)`.

Everything an installation keeps lives on the `Installation` row: non-secret settings
in `config`, secrets encrypted in `secrets_encrypted`. Secrets are write-only: forms
never render them back and a blank secret on an edit keeps the stored one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from importlib import import_module
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from django import forms
from django.db import connection

from accounts.errors import FieldError, validation_error

from .crypto import read_secrets

if TYPE_CHECKING:
    from .models import Installation

Kind = Literal["source", "destination"]
SOURCE: Kind = "source"
DESTINATION: Kind = "destination"


@dataclass(frozen=True)
class ConnectionResult:
    ok: bool
    message: str
    status_code: int | None = None


@dataclass(frozen=True)
class SecretState:
    """What a page may say about one secret: never its value."""

    name: str
    label: str
    is_set: bool
    note: str = ""


@dataclass(frozen=True)
class Step:
    """One step of a set-up guide: a sentence, optional list items and a value to copy."""

    text: str
    items: tuple[str, ...] = ()
    value: str = ""


@dataclass
class Prepared:
    """A validated configuration, ready to store.

    `one_time` holds values shown to the installer once (a generated API key) and
    stored nowhere in clear; `secrets_changed` names replaced secrets for the audit row.
    """

    config: dict[str, Any]
    secrets: dict[str, str]
    one_time: dict[str, str] = field(default_factory=dict)
    secrets_changed: list[str] = field(default_factory=list)


class SecretInput(forms.PasswordInput):
    """A password box that never renders a value back."""

    def __init__(self, attrs=None):
        super().__init__(attrs={"autocomplete": "new-password", **(attrs or {})})
        self.render_value = False


def secret_field(label: str, help_text: str = "") -> forms.CharField:
    """A write-only secret. Required-ness is decided by `BaseIntegration.prepare`."""
    return forms.CharField(
        label=label, required=False, max_length=500, widget=SecretInput(), help_text=help_text
    )


class ConfigForm(forms.Form):
    """Base of every integration's configuration form.

    Field names are the configuration keys of ARCHITECTURE.md. `secrets_set` names the
    secrets an installation already has, so their boxes can say a blank keeps them.
    """

    def __init__(self, *args, secret_fields=(), secrets_set=(), **kwargs):
        super().__init__(*args, **kwargs)
        for name in secret_fields:
            if name in self.fields and name in secrets_set:
                self.fields[name].help_text = "Set. Leave blank to keep the current value."


class BaseIntegration:
    key: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str]
    kind: ClassVar[Kind]
    config_form: ClassVar[type[ConfigForm]] = ConfigForm
    secret_fields: ClassVar[tuple[str, ...]] = ()
    # Secrets an installation cannot do without.
    required_secrets: ClassVar[tuple[str, ...]] = ()
    # Sources: the last path segment of the ingest URL (`webhooks`, `purchases`).
    ingest_path_suffix: ClassVar[str | None] = None
    # Set by the registry: the dotted package this integration came from.
    package: str = ""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.key}>"

    @property
    def is_source(self) -> bool:
        return self.kind == SOURCE

    @property
    def is_destination(self) -> bool:
        return self.kind == DESTINATION

    # Configuration -------------------------------------------------------------------

    def config_keys(self) -> list[str]:
        return list(self.config_form.base_fields)

    def form(self, data=None, *, installation: Installation | None = None) -> ConfigForm:
        """The configuration form, bound to `data` when given; secrets never as initial."""
        initial = None
        secrets_set: tuple[str, ...] = ()
        if installation is not None:
            initial = {k: v for k, v in installation.config.items() if k not in self.secret_fields}
            secrets_set = tuple(read_secrets(installation))
        return self.config_form(
            data=data, initial=initial, secret_fields=self.secret_fields, secrets_set=secrets_set
        )

    def prepare(
        self, cleaned: dict[str, Any], *, installation: Installation | None, now: datetime
    ) -> Prepared:
        """Split a valid form's data into config and secrets; enforce cross-field rules.

        A blank secret keeps the installation's current one. Raise `validation_error`
        with field errors for anything the form alone cannot judge.
        """
        current = read_secrets(installation) if installation is not None else {}
        config = {k: v for k, v in cleaned.items() if k not in self.secret_fields}
        secrets = dict(current)
        changed = []
        for name in self.secret_fields:
            value = cleaned.get(name) or ""
            if value and value != current.get(name):
                secrets[name] = value
                changed.append(name)
        missing = [name for name in self.required_secrets if not secrets.get(name)]
        if missing:
            raise validation_error(
                "The configuration is not valid.",
                [FieldError(name, "This secret is required.") for name in missing],
            )
        return Prepared(config=config, secrets=secrets, secrets_changed=changed)

    # The form field whose value `unique_key` is built from (for the error message).
    unique_field: ClassVar[str | None] = None

    def unique_key(self, config: dict) -> str | None:
        """A value that may be installed only once per organisation, if any."""
        return None

    def summary(self, installation: Installation) -> list[tuple[str, str]]:
        """Label and value of each non-secret setting, for the installation page."""
        form = self.config_form
        rows = []
        for name, form_field in form.base_fields.items():
            if name in self.secret_fields:
                continue
            value = installation.config.get(name, "")
            if isinstance(value, bool):
                value = "Yes" if value else "No"
            rows.append((str(form_field.label or name), str(value)))
        return rows

    # Secrets ---------------------------------------------------------------------------

    # The rotate action's button, and the label of the new value it asks for (None: the
    # integration generates the new secret itself). No label: nothing to rotate.
    rotation_label: ClassVar[str | None] = None
    rotation_input_label: ClassVar[str | None] = None

    def rotate(
        self, installation: Installation, value: str, *, now: datetime
    ) -> Prepared:  # integrations with a `rotation_label` override it
        raise NotImplementedError

    def secret_states(self, installation: Installation) -> list[SecretState]:
        stored = read_secrets(installation)
        return [
            SecretState(name, str(self.config_form.base_fields[name].label), bool(stored.get(name)))
            for name in self.secret_fields
        ]

    # Sources ---------------------------------------------------------------------------

    def ingest_url(self, installation: Installation, *, slug: str | None = None) -> str | None:
        """The URL the platform sends to, on the installation's organisation host."""
        if not self.is_source or not self.ingest_path_suffix:
            return None
        from tenants.urls import organisation_base_url

        slug = slug or connection.tenant.slug
        return (
            f"{organisation_base_url(slug)}api/v1/integrations/"
            f"{self.key}/{installation.pk}/{self.ingest_path_suffix}"
        )

    def setup_steps(self, installation: Installation, ingest_url: str | None) -> list[Step]:
        """What to do on the platform's side so it starts sending (sources)."""
        return []

    # Destinations ----------------------------------------------------------------------

    def test_connection(self, installation: Installation) -> ConnectionResult | None:
        """Optional: check the configured credentials against the remote service."""
        return None

    @property
    def can_test_connection(self) -> bool:
        return type(self).test_connection is not BaseIntegration.test_connection

    def client(self, installation: Installation):
        """Destinations: the package's client for this installation (imported lazily)."""
        module = import_module(f"{self.package}.client")
        factory = getattr(module, "build_client", None) or module.Client
        return factory(installation)
