import logging

import httpx
from django import forms

from accounts.errors import ApplicationError, FieldError, validation_error
from catalog_integrations.base import (
    DESTINATION,
    BaseIntegration,
    ConfigForm,
    ConnectionResult,
    Prepared,
    secret_field,
)

from .settings import REGIONS, host_allowed, mixpanel_auth, mixpanel_endpoint, normalise_host

logger = logging.getLogger(__name__)

# A connection test is a person waiting on a page: answer within seconds.
CONNECTION_TEST_TIMEOUT_SECONDS = 5.0
# How much of the host's answer the page shows.
ANSWER_EXCERPT_CHARS = 200

SECRET_FIELDS = ("api_secret", "service_account_secret")
SERVICE_ACCOUNT_FIELDS = ("service_account_username", "service_account_secret", "project_id")


class MixpanelForm(ConfigForm):
    project_token = forms.CharField(
        label="Project token", max_length=100, help_text="Sent with every event."
    )
    api_secret = secret_field("API secret", "Either the project's API secret ...")
    service_account_username = forms.CharField(
        label="Service account user name",
        max_length=200,
        required=False,
        help_text="... or a service account: its user name, secret and the project id.",
    )
    service_account_secret = secret_field("Service account secret")
    project_id = forms.CharField(label="Project id", max_length=40, required=False)
    region = forms.ChoiceField(
        label="Data residency", choices=REGIONS, initial="us", required=False
    )
    api_host = forms.CharField(
        label="API host",
        max_length=200,
        required=False,
        help_text="Optional: a proxy's base URL. Leave blank for the region's host.",
    )

    def clean_project_id(self) -> str:
        value = self.cleaned_data["project_id"].strip()
        if value and not value.isdigit():
            raise forms.ValidationError("A project id is a number.")
        return value

    def clean_region(self) -> str:
        return self.cleaned_data.get("region") or "us"

    def clean_api_host(self) -> str:
        value = self.cleaned_data["api_host"].strip()
        if not value:
            return ""
        if not host_allowed(value):
            raise forms.ValidationError(
                "This host is not allowed: use a regional Mixpanel host or one of the "
                "hosts the operators configured in MIXPANEL_CUSTOM_HOSTS."
            )
        return normalise_host(value)


class MixpanelIntegration(BaseIntegration):
    key = "mixpanel"
    name = "Mixpanel"
    description = (
        "Sends every purchase and refund to a Mixpanel project as Purchase and Refund "
        "events, attributed to the user who made them."
    )
    kind = DESTINATION
    config_form = MixpanelForm
    secret_fields = SECRET_FIELDS

    def prepare(self, cleaned, *, installation, now) -> Prepared:
        cleaned = dict(cleaned)
        if installation is not None:
            # Entering one kind of credential replaces the other kind.
            if cleaned.get("api_secret"):
                cleaned["service_account_username"] = ""
                cleaned["project_id"] = ""
            if cleaned.get("service_account_secret"):
                cleaned["api_secret"] = ""
        prepared = super().prepare(cleaned, installation=installation, now=now)
        if installation is not None:
            if cleaned.get("api_secret"):
                prepared.secrets.pop("service_account_secret", None)
            if cleaned.get("service_account_secret"):
                prepared.secrets.pop("api_secret", None)
        _check_credentials(prepared, is_new=installation is None)
        return prepared

    def test_connection(self, installation) -> ConnectionResult:
        """Post an empty batch to `/import` and report what the host answered."""
        try:
            endpoint = mixpanel_endpoint(installation)
        except ApplicationError as exc:
            return ConnectionResult(False, exc.detail)
        auth = mixpanel_auth(installation)
        try:
            response = httpx.post(
                f"{endpoint}/import",
                params={"strict": "1", **auth.params},
                json=[],
                auth=auth.basic,
                timeout=CONNECTION_TEST_TIMEOUT_SECONDS,
                follow_redirects=False,
            )
        except httpx.TimeoutException:
            return ConnectionResult(False, f"{endpoint} did not answer within 5 seconds.")
        except httpx.HTTPError as exc:
            return ConnectionResult(False, f"Could not reach {endpoint}: {type(exc).__name__}.")
        logger.info(
            "mixpanel_connection_tested",
            extra={"installation": str(installation.pk), "status": response.status_code},
        )
        return _result(endpoint, response)


def _check_credentials(prepared: Prepared, *, is_new: bool) -> None:
    secrets, config = prepared.secrets, prepared.config
    has_api_secret = bool(secrets.get("api_secret"))
    account = [
        bool(config.get("service_account_username")),
        bool(secrets.get("service_account_secret")),
        bool(config.get("project_id")),
    ]
    errors = []
    if is_new and has_api_secret and any(account[:2]):
        errors.append(
            FieldError("api_secret", "Enter either an API secret or a service account, not both.")
        )
    elif not has_api_secret and not any(account):
        errors.append(
            FieldError("api_secret", "Enter the API secret, or a service account instead.")
        )
    elif not has_api_secret and not all(account):
        errors.extend(
            FieldError(name, "A service account needs its user name, secret and project id.")
            for name, present in zip(SERVICE_ACCOUNT_FIELDS, account, strict=True)
            if not present
        )
    if errors:
        raise validation_error("The configuration is not valid.", errors)
    if has_api_secret:
        for name in ("service_account_username", "project_id"):
            config[name] = ""


def _result(endpoint: str, response: httpx.Response) -> ConnectionResult:
    status = response.status_code
    try:
        body = response.json()
        answer = body.get("error") or body.get("status") or ""
    except ValueError:
        answer = response.text
    answer = " ".join(str(answer).split())[:ANSWER_EXCERPT_CHARS]
    said = f" and said: {answer}" if answer else ""
    if 200 <= status < 300:
        message = f"{endpoint} accepted the credentials (HTTP {status}){said}."
        return ConnectionResult(True, message, status)
    if status in (401, 403):
        message = f"{endpoint} refused the credentials (HTTP {status}){said}."
        return ConnectionResult(False, message, status)
    return ConnectionResult(False, f"{endpoint} answered HTTP {status}{said}.", status)
