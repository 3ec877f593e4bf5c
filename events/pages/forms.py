"""Forms of the portal's pages: filters (GET) and linking a held purchase (POST)."""

from django import forms

from ..models import DeliveryState, PurchaseKind
from ..selectors.overview import DEFAULT_PERIOD_DAYS, PERIOD_CHOICES
from ..selectors.purchase_search import PurchaseFilters

PAGE_SIZE = 50
PAGE_SIZE_MIN = 10
PAGE_SIZE_MAX = 100


class PeriodForm(forms.Form):
    days = forms.TypedChoiceField(
        label="Period",
        coerce=int,
        choices=[(days, f"Last {days} days") for days in PERIOD_CHOICES],
        initial=DEFAULT_PERIOD_DAYS,
    )

    def period_days(self) -> int:
        if self.is_bound and self.is_valid():
            return self.cleaned_data["days"]
        return DEFAULT_PERIOD_DAYS


class PagedForm(forms.Form):
    """A list's filters plus the page size (clamped, so no page is ever unbounded)."""

    size = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def page_size(self) -> int:
        size = self.cleaned_data.get("size") if self.is_bound and self.is_valid() else None
        return min(max(size or PAGE_SIZE, PAGE_SIZE_MIN), PAGE_SIZE_MAX)


class PurchaseFilterForm(PagedForm):
    order_id = forms.CharField(label="Order id", required=False, max_length=255)
    installation = forms.TypedChoiceField(label="Source", required=False, coerce=str)
    state = forms.ChoiceField(
        label="Delivery state",
        required=False,
        choices=[("", "Any state"), *DeliveryState.choices],
    )
    kind = forms.ChoiceField(
        label="Kind", required=False, choices=[("", "Purchases and refunds"), *PurchaseKind.choices]
    )
    shopper = forms.CharField(
        label="Shopper",
        required=False,
        max_length=255,
        help_text="A user id, an email, or the shopper's id on the platform.",
    )
    date_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, installations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["installation"].choices = [("", "Any source")] + [
            (str(i.pk), i.name) for i in installations
        ]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "Must be on or after the start date.")
        return cleaned

    def filters(self) -> PurchaseFilters:
        if not (self.is_bound and self.is_valid()):
            return PurchaseFilters()
        data = self.cleaned_data
        return PurchaseFilters(
            installation_id=data["installation"] or None,
            state=data["state"],
            kind=data["kind"],
            shopper=data["shopper"],
            order_id=data["order_id"],
            date_from=data["date_from"],
            date_to=data["date_to"],
        )


class CustomerSearchForm(PagedForm):
    q = forms.CharField(
        label="Search users",
        required=False,
        max_length=255,
        help_text="An email (or its beginning), a user id, or an id on a platform.",
    )

    def query(self) -> str:
        return self.cleaned_data["q"] if self.is_bound and self.is_valid() else ""


class HeldLinkForm(forms.Form):
    user = forms.CharField(
        label="User",
        max_length=255,
        help_text="The email or id of the user this shopper is; the identity is added to them.",
    )
