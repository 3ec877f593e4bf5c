"""Django's error report (the debug page, and any mailed report) without credentials.

Django's own filter steps aside while `DEBUG` is on, and never hides a function's local
variables unless it is marked with `sensitive_variables`. Here it always filters, and the
frames of the modules that hold decrypted secrets, posted secrets or one-time keys, and
every frame they call (an HTTP client handed the credentials, say), show their
variables' names only.
"""

from django.views.debug import SafeExceptionReporterFilter

SECRET_HOLDING_MODULES = (
    "catalog_integrations",
    "accounts.services",
    "accounts.api_client_views",
    "events.dispatch",
    "tenants.services",
    "tenants.views",
)


class SecretsReporterFilter(SafeExceptionReporterFilter):
    def is_active(self, request) -> bool:
        return True

    def get_traceback_frame_variables(self, request, tb_frame):
        if _within_secret_holding_module(tb_frame):
            return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]
        return super().get_traceback_frame_variables(request, tb_frame)


def _within_secret_holding_module(frame) -> bool:
    """Whether this frame, or any frame that called it, runs a secret-holding module."""
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith(SECRET_HOLDING_MODULES):
            return True
        frame = frame.f_back
    return False
