"""Keyset pagination for portal lists: a fixed cost per page however deep it is.

A page is the `size` rows after (older than) or before (newer than) a cursor, in
descending order of two columns (a time and a unique id). Counting the whole list
would cost a scan of it, so pages link to their neighbours instead of numbering them.
"""

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

CURSOR_SEPARATOR = "~"


@dataclass(frozen=True)
class Page:
    items: list
    older: str | None
    newer: str | None

    @property
    def has_other_pages(self) -> bool:
        return bool(self.older or self.newer)


def _cursor_of(row, fields: tuple[str, str]) -> str:
    values = []
    for name in fields:
        value = getattr(row, name)
        values.append(value.isoformat() if isinstance(value, datetime) else str(value))
    return CURSOR_SEPARATOR.join(values)


def _parse_cursor(queryset: QuerySet, fields: tuple[str, str], cursor: str | None):
    """The cursor's values, or None when there is none or it is not one of ours."""
    if not cursor:
        return None
    parts = cursor.split(CURSOR_SEPARATOR)
    if len(parts) != len(fields):
        return None
    values = []
    for name, text in zip(fields, parts, strict=True):
        field = queryset.model._meta.get_field(name)
        try:
            value = field.to_python(text)
        except (ValidationError, ValueError, OverflowError):
            return None
        if value is None:
            return None
        values.append(value)
    return values


def _beyond(fields: tuple[str, str], values: list, *, older: bool) -> Q:
    """Rows strictly after the cursor in the descending order (or before it).

    Written with a plain bound on the first column so any index that ends in it
    (`(installation, occurred_at)`, `(customer, occurred_at)`, ...) can serve it.
    """
    first, second = fields
    op = "lt" if older else "gt"
    bound = "lte" if older else "gte"
    return Q(**{f"{first}__{bound}": values[0]}) & (
        Q(**{f"{first}__{op}": values[0]}) | Q(**{first: values[0], f"{second}__{op}": values[1]})
    )


def keyset_page(
    queryset: QuerySet,
    *,
    fields: tuple[str, str],
    size: int,
    older_than: str | None = None,
    newer_than: str | None = None,
) -> Page:
    """One page of `queryset` in descending (`fields`) order: one query."""
    first, second = fields
    newer_values = _parse_cursor(queryset, fields, newer_than)
    older_values = None if newer_values else _parse_cursor(queryset, fields, older_than)

    if newer_values:
        rows = list(
            queryset.filter(_beyond(fields, newer_values, older=False)).order_by(first, second)[
                : size + 1
            ]
        )
        more_newer = len(rows) > size
        items = list(reversed(rows[:size]))
        return Page(
            items=items,
            older=_cursor_of(items[-1], fields) if items else None,
            newer=_cursor_of(items[0], fields) if items and more_newer else None,
        )

    if older_values:
        queryset = queryset.filter(_beyond(fields, older_values, older=True))
    rows = list(queryset.order_by(f"-{first}", f"-{second}")[: size + 1])
    items = rows[:size]
    return Page(
        items=items,
        older=_cursor_of(items[-1], fields) if len(rows) > size else None,
        newer=_cursor_of(items[0], fields) if items and older_values else None,
    )


def page_for_request(request, queryset: QuerySet, *, fields: tuple[str, str], size: int) -> Page:
    """The page a portal request asks for with its `older` or `newer` cursor."""
    return keyset_page(
        queryset,
        fields=fields,
        size=size,
        older_than=request.GET.get("older"),
        newer_than=request.GET.get("newer"),
    )


def query_without_cursor(request) -> str:
    """The request's query string minus its cursor, for the pager's links."""
    query = request.GET.copy()
    query.pop("older", None)
    query.pop("newer", None)
    return query.urlencode()
