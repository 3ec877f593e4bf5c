"""The product's one error vocabulary.

Services raise `ApplicationError` with a stable snake_case code; the API turns it into
`{"detail", "code", "errors"}` in one place and the portal into a message in one place.
"""

from dataclasses import dataclass, field


@dataclass
class FieldError:
    field: str
    message: str


@dataclass
class ApplicationError(Exception):
    detail: str
    code: str
    status: int = 400
    errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.code}: {self.detail}"

    def as_body(self) -> dict:
        body = {"detail": self.detail, "code": self.code}
        if self.errors:
            body["errors"] = [{"field": e.field, "message": e.message} for e in self.errors]
        return body


def validation_error(detail: str, errors: list[FieldError], code="validation_error"):
    return ApplicationError(detail=detail, code=code, status=422, errors=errors)
