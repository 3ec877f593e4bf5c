"""The try-it page at /api/v1/docs works offline: Swagger UI comes from our own static files."""


def test_the_docs_page_loads_swagger_from_this_server_not_a_cdn(acme):
    response = acme.client().get("/api/v1/docs")
    page = response.content.decode()

    assert response.status_code == 200
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert "cdn.jsdelivr.net" not in page


def test_the_openapi_document_says_how_to_authenticate_and_what_errors_look_like(acme):
    info = acme.client().get("/api/v1/openapi.json").json()["info"]

    assert info["title"] == "Commerce analytics API"
    assert "access token from `POST /o/token/`" in info["description"]
    assert '`{"detail", "code", "errors": [{"field", "message"}]}`' in info["description"]
