from django import forms
from django.contrib.auth.password_validation import validate_password

from .slugs import slug_problem


class SignupForm(forms.Form):
    name = forms.CharField(label="Organisation name", max_length=200)
    slug = forms.CharField(
        label="Portal address",
        max_length=40,
        help_text="Lower-case letters, digits and hyphens; your portal lives at this name.",
    )
    admin_email = forms.EmailField(label="Your email")
    password = forms.CharField(label="Password", widget=forms.PasswordInput, min_length=10)

    def clean_slug(self):
        slug = self.cleaned_data["slug"].strip().lower()
        problem = slug_problem(slug)
        if problem:
            raise forms.ValidationError(problem)
        return slug

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("password"):
            try:
                validate_password(cleaned["password"])
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned
