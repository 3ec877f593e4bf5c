from allauth.account.adapter import DefaultAccountAdapter


class PortalAccountAdapter(DefaultAccountAdapter):
    """Members are created by provisioning or invitation, never by open sign-up."""

    def is_open_for_signup(self, request) -> bool:
        return False
