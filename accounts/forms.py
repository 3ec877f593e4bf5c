"""Forms of the accounts app's portal pages, and the one way services' errors reach a form."""

from django import forms

from .errors import ApplicationError
from .models import Role


class MemberInviteForm(forms.Form):
    email = forms.EmailField(label="Email address", max_length=254)
    role = forms.ChoiceField(label="Role", choices=Role.choices, initial=Role.VIEWER)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)


class AuditFilterForm(forms.Form):
    """The audit log's filters; every field optional, bad values are form errors."""

    action = forms.ChoiceField(label="Action", required=False)
    actor = forms.CharField(label="Actor", required=False, max_length=255)
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, actions: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = [("", "Any action")] + [(a, a) for a in actions]


def form_apply_error(form: forms.Form, error: ApplicationError) -> None:
    """Show an `ApplicationError` on a portal form: field errors by their fields."""
    if not error.errors:
        form.add_error(None, error.detail)
    for item in error.errors:
        field = item.field if item.field in form.fields else None
        form.add_error(field, item.message)
