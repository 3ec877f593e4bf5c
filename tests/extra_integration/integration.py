from django import forms

from catalog_integrations.base import SOURCE, BaseIntegration, ConfigForm, secret_field


class PingForm(ConfigForm):
    endpoint_label = forms.CharField(label="Label", max_length=50)
    token = secret_field("Token")


class PingIntegration(BaseIntegration):
    key = "ping"
    name = "Ping (tests)"
    description = "A test-only source that accepts pings signed with its token."
    kind = SOURCE
    config_form = PingForm
    secret_fields = ("token",)
    required_secrets = ("token",)
    ingest_path_suffix = "pings"
