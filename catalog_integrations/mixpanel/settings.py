"""Where a Mixpanel installation sends, and with which credentials.

No host is ever called but a regional one or one named in `MIXPANEL_CUSTOM_HOSTS`; the
check runs when the installation is saved and again on every use, so removing a host
from the setting stops traffic to it at once.
"""

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings

from accounts.errors import ApplicationError
from catalog_integrations.crypto import read_secrets

REGION_HOSTS = {
    "us": "https://api.mixpanel.com",
    "eu": "https://api-eu.mixpanel.com",
    "in": "https://api-in.mixpanel.com",
}
REGIONS = [("us", "United States"), ("eu", "European Union"), ("in", "India")]


def normalise_host(value: str) -> str | None:
    """`scheme://host[:port]` in lower case, or None when `value` is not a bare base URL."""
    try:
        parts = urlsplit(value.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if parts.username or parts.password or parts.query or parts.fragment:
        return None
    if parts.path not in ("", "/"):
        return None
    netloc = parts.hostname.lower() + (f":{port}" if port else "")
    return f"{parts.scheme.lower()}://{netloc}"


def allowed_hosts() -> set[str]:
    hosts = set(REGION_HOSTS.values())
    for host in settings.MIXPANEL_CUSTOM_HOSTS:
        normalised = normalise_host(host)
        if normalised:
            hosts.add(normalised)
    return hosts


def host_allowed(value: str) -> bool:
    normalised = normalise_host(value)
    return normalised is not None and normalised in allowed_hosts()


def mixpanel_endpoint(installation) -> str:
    """The base URL to send to, without a trailing slash (e.g. `https://api-eu.mixpanel.com`)."""
    config = installation.config
    host = config.get("api_host") or REGION_HOSTS.get(config.get("region") or "us", "")
    normalised = normalise_host(host) if host else None
    if normalised is None or normalised not in allowed_hosts():
        raise ApplicationError(
            detail="This installation's Mixpanel host is not allowed.",
            code="host_not_allowed",
            status=400,
        )
    return normalised


def mixpanel_project_token(installation) -> str:
    return installation.config.get("project_token", "")


@dataclass(frozen=True)
class MixpanelAuth:
    """Basic-auth credentials plus query parameters for Mixpanel's ingestion API.

    An API secret is the user name with an empty password; a service account sends its
    name and secret, and `project_id` as a query parameter.
    """

    username: str
    password: str
    params: dict[str, str] = field(default_factory=dict)

    @property
    def basic(self) -> tuple[str, str]:
        return (self.username, self.password)

    def __repr__(self) -> str:
        return f"MixpanelAuth(username=***, params={self.params!r})"


def mixpanel_auth(installation) -> MixpanelAuth:
    secrets = read_secrets(installation)
    if secrets.get("service_account_secret"):
        return MixpanelAuth(
            username=installation.config.get("service_account_username", ""),
            password=secrets["service_account_secret"],
            params={"project_id": str(installation.config.get("project_id", ""))},
        )
    return MixpanelAuth(username=secrets.get("api_secret", ""), password="")
