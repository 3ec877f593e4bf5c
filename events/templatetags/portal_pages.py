"""Tags for the portal's list rows: a shopper and a delivery state, without an include
per row (a page of 100 purchases renders each of them hundreds of times)."""

from django import template
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from accounts.masking import shown

register = template.Library()

STATE_STYLES = {"delivered": " ok", "failed": " bad", "dead": " bad", "rejected": " bad"}


@register.simple_tag(takes_context=True)
def shopper(context, customer=None, external: str = ""):
    """A link to the user (email masked for viewers), else the platform id, else guest."""
    if customer is not None:
        member = getattr(context.get("request"), "user", None)
        label = shown(customer.email, member) if customer.email else f"user {customer.pk}"
        return format_html('<a href="{}">{}</a>', reverse("portal:user", args=[customer.pk]), label)
    if external:
        return format_html("<small>platform id {}</small>", external)
    return mark_safe("<small>guest</small>")  # noqa: S308 - a constant


@register.simple_tag
def delivery_state(delivery):
    """The delivery's state as a badge, coloured by outcome."""
    style = STATE_STYLES.get(delivery.state, "")
    return format_html('<span class="badge{}">{}</span>', style, delivery.get_state_display())
