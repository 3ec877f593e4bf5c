from allauth.account.models import EmailAddress, EmailConfirmation
from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_tenants.utils import tenant_context

from .models import Organisation
from .urls import organisation_base_url


def send_admin_verification(*, organisation: Organisation, email: str) -> None:
    """Mail the first admin a link that verifies their address on their own portal."""
    with tenant_context(organisation):
        address = EmailAddress.objects.get(email=email)
        confirmation = EmailConfirmation.create(address)
        confirmation.sent = timezone.now()
        confirmation.save(update_fields=["sent"])
        # The portal's URLconf: a request on the public host has the public one active.
        path = reverse(
            "account_confirm_email", args=[confirmation.key], urlconf=settings.ROOT_URLCONF
        )
    link = organisation_base_url(organisation.slug).rstrip("/") + path
    context = {"organisation": organisation, "link": link}
    send_mail(
        subject=f"Confirm your email for {organisation.name}",
        message=render_to_string("tenants/email/verify_admin.txt", context),
        from_email=None,
        recipient_list=[email],
    )
