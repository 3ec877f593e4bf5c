"""What Django's error report (debug page, mailed report) would show of a posted form."""

from django.test import Client
from django.views.debug import SafeExceptionReporterFilter

PASSWORD = "a-long-enough-passphrase"


def test_the_sign_up_password_is_hidden_from_error_reports(db):
    response = Client().post(
        "/signup/",
        {"name": "Leaky", "slug": "x", "admin_email": "o@leaky.test", "password": PASSWORD},
        HTTP_HOST="localhost",
    )

    shown = SafeExceptionReporterFilter().get_post_parameters(response.wsgi_request)
    assert response.status_code == 400
    assert shown["password"] == "********************"
    assert shown["slug"] == "x"
