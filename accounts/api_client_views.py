"""Portal pages for the organisation's API clients: list, create (secret shown once), revoke."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from .actors import Actor
from .errors import ApplicationError
from .permissions import admin_required
from .selectors import api_client_get, api_client_list, known_scopes
from .services import API_CLIENT_NAME_MAX_LENGTH, api_client_create, api_client_revoke


class ApiClientForm(forms.Form):
    name = forms.CharField(
        max_length=API_CLIENT_NAME_MAX_LENGTH,
        help_text="What calls the API with it, e.g. “Shop back office”.",
    )
    scopes = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        help_text="The client may ask only for these when it gets a token.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["scopes"].choices = [(scope, scope) for scope in known_scopes()]


def _list_page(request, form: ApiClientForm):
    context = {"api_clients": api_client_list(), "form": form, "can_change": request.user.is_admin}
    # Refused input is a 422, as on the portal's other forms.
    return render(request, "accounts/api_clients.html", context, status=422 if form.errors else 200)


@login_required
def api_clients(request):
    return _list_page(request, ApiClientForm())


@require_POST
@admin_required
def api_client_new(request):
    form = ApiClientForm(request.POST)
    if form.is_valid():
        try:
            created = api_client_create(
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                actor=Actor.member(request.user),
            )
        except ApplicationError as exc:
            for error in exc.errors:
                form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            # The secret is on this response only: never stored in clear, never cached.
            response = render(request, "accounts/api_client_created.html", {"created": created})
            response["Cache-Control"] = "no-store"
            return response
    return _list_page(request, form)


@require_POST
@admin_required
def api_client_revoke_view(request, pk: int):
    api_client = api_client_get(pk=pk)
    if api_client is None:
        raise Http404("No such API client.")
    api_client_revoke(api_client=api_client, actor=Actor.member(request.user))
    messages.success(
        request, f"Revoked “{api_client.application.name}”. Its tokens no longer work."
    )
    return redirect("accounts:api_clients")
