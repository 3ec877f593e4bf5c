from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context
from django.utils.http import url_has_allowed_host_and_scheme


class PortalAccountAdapter(DefaultAccountAdapter):
    """Members are created by provisioning or invitation, never by open sign-up."""

    def is_open_for_signup(self, request) -> bool:
        return False

    def is_safe_url(self, url: str) -> bool:
        """A `next` stays on this organisation's host.

        allauth's default also accepts every host `ALLOWED_HOSTS` matches, and
        `.<base host>` matches every organisation: sign-in on acme could send its member
        on to any other organisation's portal, one anyone may sign up for.
        """
        request = context.request
        return url_has_allowed_host_and_scheme(
            url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
