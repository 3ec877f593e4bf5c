"""Template tags of the deliveries pages."""

from django import template

from ..selectors import outbox

register = template.Library()


@register.inclusion_tag("events/_paused_banner.html", takes_context=True)
def paused_banner(context) -> dict:
    """The banner naming destinations paused because their credentials were refused."""
    return {
        "paused": list(outbox.paused_destinations()),
        "user": context.get("user"),
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
    }
