"""`{% pii value %}` and friends: personal data as the member looking may see it."""

import json

from django import template

from accounts.masking import shown, shown_data, shown_text

register = template.Library()


def _member(context):
    request = context.get("request")
    return getattr(request, "user", None)


@register.simple_tag(takes_context=True)
def pii(context, value):
    """An email, a name, a phone: in clear for admins, masked for everyone else."""
    return shown(value, _member(context))


@register.simple_tag(takes_context=True)
def pii_text(context, value):
    """Free text: any email address inside it masked for viewers."""
    return shown_text(value, _member(context))


@register.simple_tag(takes_context=True)
def pii_json(context, data):
    """A JSON document, indented, with its personal data masked for viewers."""
    return json.dumps(shown_data(data, _member(context)), indent=2, sort_keys=True, default=str)
