"""The portal's installation form: a name plus the integration's configuration form."""

from django import forms

from accounts.errors import ApplicationError
from catalog_integrations.models import Installation


def installation_form(integration, *, data=None, installation: Installation | None = None):
    form = integration.form(data=data, installation=installation)
    name = forms.CharField(
        label="Name",
        max_length=Installation._meta.get_field("name").max_length,
        help_text="How this installation is called in the portal.",
    )
    form.fields = {"name": name, **form.fields}
    form.initial["name"] = installation.name if installation else integration.name
    return form


def apply_errors(form, exc: ApplicationError) -> None:
    """Show a service's field errors next to their fields (the portal's one place)."""
    if not exc.errors:
        form.add_error(None, exc.detail)
    for error in exc.errors:
        if error.field in form.fields and error.field not in form.errors:
            form.add_error(error.field, error.message)
        elif error.field not in form.fields:
            form.add_error(None, f"{error.field}: {error.message}")


def field_rows(form, shown=None) -> list[tuple]:
    """(bound field, its errors) in order; `shown` limits which errors appear."""
    errors = form.errors if shown is None else shown
    return [(form[name], list(errors.get(name, []))) for name in form.fields]
