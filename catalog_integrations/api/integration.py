from datetime import datetime

from catalog_integrations.base import SOURCE, BaseIntegration, ConfigForm, Prepared, SecretState

from .keys import CREATED_KEY, PREFIX_KEY, generate_api_key


class ApiForm(ConfigForm):
    """Nothing to enter: the key is generated."""


class ApiIntegration(BaseIntegration):
    key = "api"
    name = "API"
    description = (
        "Lets any system send purchases over HTTPS with a key of its own: "
        "for shops and platforms without a ready-made integration."
    )
    kind = SOURCE
    config_form = ApiForm
    ingest_path_suffix = "purchases"
    rotation_label = "Generate a new key"

    def prepare(self, cleaned, *, installation, now: datetime) -> Prepared:
        if installation is not None:
            return Prepared(config=dict(installation.config), secrets={})
        key, config = generate_api_key()
        return Prepared(config=config, secrets={}, one_time={"api_key": key})

    def rotate(self, installation, value: str = "", *, now: datetime) -> Prepared:
        """A new key replaces the old one at once; it is shown once."""
        key, config = generate_api_key()
        return Prepared(
            config={**installation.config, **config},
            secrets={},
            one_time={"api_key": key},
            secrets_changed=["api_key"],
        )

    def secret_states(self, installation) -> list[SecretState]:
        prefix = installation.config.get(PREFIX_KEY)
        created = installation.config.get(CREATED_KEY)
        note = ""
        if prefix and created:
            made = datetime.fromisoformat(created)
            note = f"Key {prefix}_… created {made:%Y-%m-%d %H:%M} UTC. It is shown only once."
        return [SecretState("api_key", "API key", bool(prefix), note)]
