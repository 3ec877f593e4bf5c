"""What an integration is. One sub-package of `catalog_integrations` per integration.

A package declares one `BaseIntegration` subclass in its `integration.py` (found by the
registry at start-up). Sources also declare a ninja `router` (mounted under
`/api/v1/integrations/<key>/`) that authenticates and parses what the platform sends and
hands one normalised event to an `events` service. Destinations declare a client that
sends batches of deliveries.
"""

from dataclasses import dataclass
from typing import ClassVar, Literal

from django import forms

Kind = Literal["source", "destination"]


@dataclass(frozen=True)
class ConnectionResult:
    ok: bool
    message: str
    status_code: int | None = None


class BaseIntegration:
    key: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str]
    kind: ClassVar[Kind]
    # Form with the configuration keys of ARCHITECTURE.md; secret fields are write-only.
    config_form: ClassVar[type[forms.Form]]
    secret_fields: ClassVar[tuple[str, ...]] = ()
    # A ninja Router for sources' ingest endpoints, or None.
    router = None

    def unique_key(self, config: dict) -> str | None:
        """A value that may be installed only once per organisation, if any."""
        return None

    def test_connection(self, installation) -> ConnectionResult | None:
        """Optional: check the configured credentials against the remote service."""
        return None

    def client(self, installation):
        """Destinations: an object with `send(deliveries) -> list[SendResult]`."""
        raise NotImplementedError
