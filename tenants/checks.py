from django.conf import settings
from django.core.checks import Error, register


@register()
def queue_retry_outlasts_timeout(app_configs, **kwargs):
    """A task re-offered before its timeout could run twice at once on two workers."""
    q = getattr(settings, "Q_CLUSTER", {})
    timeout, retry = q.get("timeout"), q.get("retry")
    if timeout is not None and (retry is None or retry <= timeout):
        return [
            Error(
                f"Q_CLUSTER retry ({retry}) must be longer than its timeout ({timeout}).",
                hint="Raise Q_CLUSTER['retry'] above Q_CLUSTER['timeout'].",
                id="tenants.E001",
            )
        ]
    return []
