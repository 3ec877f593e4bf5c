"""Portal pages for users (the organisation's shoppers): search, and one user's page."""

import uuid

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from ..selectors import customer_search as selectors
from .forms import CustomerSearchForm
from .listing import list_page


@login_required
@require_GET
def user_list(request):
    return list_page(
        request,
        form=CustomerSearchForm(request.GET or None),
        rows=lambda form: selectors.customer_search(form.query()),
        fields=("created_at", "id"),
        template="events/pages/users.html",
    )


@login_required
@require_GET
def user_detail(request, user_id: uuid.UUID):
    customer = selectors.customer_detail(customer_id=user_id)
    if customer is None:
        raise Http404("No such user.")
    context = {
        "customer": customer,
        "identities": list(customer.identities.all()),
        "purchases": selectors.customer_purchases(customer),
        "purchases_shown": selectors.USER_PURCHASES_SHOWN,
    }
    return render(request, "events/pages/user.html", context)
