"""Structured logs: every record carries the request id and organisation in effect."""

import contextvars
import json
import logging
from datetime import UTC, datetime

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
organisation_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "organisation", default=None
)


def clear_context(**kwargs) -> None:
    """Forget the finished request, so later lines on this thread are not attributed to it."""
    request_id_var.set(None)
    organisation_var.set(None)


_STANDARD_ATTRS = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__.keys()) | {
    "message",
    "asctime",
    "request_id",
    "organisation",
}


def _extra_fields(record: logging.LogRecord) -> dict:
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD_ATTRS}


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.organisation = organisation_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
            "organisation": getattr(record, "organisation", None),
            **_extra_fields(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = _extra_fields(record)
        context = " ".join(
            f"{k}={v}"
            for k, v in (
                ("org", getattr(record, "organisation", None)),
                ("req", getattr(record, "request_id", None)),
                *fields.items(),
            )
            if v is not None
        )
        line = f"{record.levelname:<7} {record.name}: {record.getMessage()}"
        if context:
            line = f"{line}  [{context}]"
        if record.exc_info:
            line = f"{line}\n{self.formatException(record.exc_info)}"
        return line
