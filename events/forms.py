"""Portal forms of the events app: the deliveries filter and the replay range."""

from datetime import timedelta

from django import forms
from django.utils import timezone

from .models import DeliveryState


class DeliveryFilterForm(forms.Form):
    state = forms.ChoiceField(
        label="State", required=False, choices=[("", "Any state"), *DeliveryState.choices]
    )
    destination = forms.ChoiceField(label="Destination", required=False)

    def __init__(self, *args, destinations=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["destination"].choices = [("", "Any destination")] + [
            (str(d.pk), d.name) for d in destinations
        ]


class ReplayForm(forms.Form):
    start = forms.DateTimeField(
        label="From",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="Purchases that happened at or after this time (UTC).",
    )
    end = forms.DateTimeField(
        label="Until",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text="...and before this time (UTC).",
    )

    @classmethod
    def last_days(cls, days: int = 30) -> "ReplayForm":
        end = timezone.now().replace(second=0, microsecond=0) + timedelta(minutes=1)
        start = end - timedelta(days=days)
        fmt = "%Y-%m-%dT%H:%M"
        return cls(initial={"start": start.strftime(fmt), "end": end.strftime(fmt)})

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start >= end:
            self.add_error("end", "The end must be after the start.")
        return cleaned
