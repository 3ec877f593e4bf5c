from django import forms
from django.contrib.auth.password_validation import validate_password

from .models import Organisation
from .slugs import slug_problem


class SlugCleaning:
    """The slug rules of ARCHITECTURE.md as a form error, before provisioning starts."""

    def clean_slug(self):
        slug = self.cleaned_data["slug"].strip().lower()
        problem = slug_problem(slug)
        if problem:
            raise forms.ValidationError(problem)
        return slug


class SignupForm(SlugCleaning, forms.Form):
    name = forms.CharField(label="Organisation name", max_length=200)
    slug = forms.CharField(
        label="Portal address",
        max_length=40,
        help_text="Lower-case letters, digits and hyphens; your portal lives at this name.",
    )
    admin_email = forms.EmailField(label="Your email")
    password = forms.CharField(label="Password", widget=forms.PasswordInput, min_length=10)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password"):
            try:
                validate_password(cleaned["password"])
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class OrganisationCreationForm(SlugCleaning, forms.ModelForm):
    """The operators' add form; `tenants.admin` hands its data to `organisation_create`."""

    admin_email = forms.EmailField(
        label="First admin's email",
        help_text="They sign in after choosing a password with “Forgot your password?”.",
    )

    class Meta:
        model = Organisation
        fields = ["name", "slug"]
        help_texts = {"slug": "Lower-case letters, digits and hyphens; the portal's host name."}
        error_messages = {"slug": {"unique": "This name is already taken."}}
