"""The one way a portal list page answers: its filters, then one keyset page of rows."""

from collections.abc import Callable

from django.db.models import QuerySet
from django.shortcuts import render

from accounts.pagination import page_for_request, query_without_cursor

from .forms import PagedForm


def list_page(
    request,
    *,
    form: PagedForm,
    rows: Callable[[PagedForm], QuerySet],
    fields: tuple[str, str],
    template: str,
):
    """Render `template` with the page of `rows(form)`; invalid filters answer 400."""
    if form.is_bound and not form.is_valid():
        return render(request, template, {"form": form, "page": None}, status=400)
    page = page_for_request(request, rows(form), fields=fields, size=form.page_size())
    context = {"form": form, "page": page, "query": query_without_cursor(request)}
    return render(request, template, context)
