"""Writes of users (`Customer`) and their identities, in the current organisation's schema.

Every identity row is written by `identities_set`, and only there: linking an identity
is what releases a purchase held for it (ARCHITECTURE.md, "Hold for identity").
"""

import logging
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from accounts.actors import Actor
from accounts.errors import ApplicationError, FieldError, validation_error
from accounts.services import audit_record
from events.models import Customer, Identity, Purchase
from events.selectors.users import (
    customer_ids_by_email,
    customers_with_identities,
    identity_owners,
    source_installation_ids,
)
from events.services.deliveries import deliveries_release_for_identities

logger = logging.getLogger(__name__)

# One bulk call is one transaction; 1,000 users keep it well under a second.
BULK_MAX_USERS = 1000
WRITE_BATCH_SIZE = 500
USER_FIELDS = frozenset({"email", "name", "properties", "identities"})


@dataclass(frozen=True)
class IdentityRef:
    installation_id: UUID
    external_id: str

    @property
    def key(self) -> tuple[UUID, str]:
        return (self.installation_id, self.external_id)


@dataclass(frozen=True)
class UserInput:
    """A user as a client sent it; `given` names the fields it sent (PATCH, bulk)."""

    email: str | None = None
    name: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    identities: tuple[IdentityRef, ...] = ()
    given: frozenset[str] = USER_FIELDS


BulkStatus = Literal["created", "updated", "unchanged", "error"]


@dataclass(frozen=True)
class BulkResult:
    index: int
    status: BulkStatus
    id: UUID | None = None
    error: ApplicationError | None = None


@dataclass
class _Change:
    customer: Customer
    created: bool = False
    fields: list[str] = field(default_factory=list)
    # The user's whole new set of identities, or None when it stays as it is.
    identities: tuple[IdentityRef, ...] | None = None

    @property
    def changed(self) -> bool:
        return self.created or bool(self.fields) or self.identities is not None


# Checks ------------------------------------------------------------------------------


def _input_problems(data: UserInput, *, sources: set[UUID]) -> list[FieldError]:
    problems = []
    seen: set[IdentityRef] = set()
    for index, ref in enumerate(data.identities):
        if ref.installation_id not in sources:
            problems.append(
                FieldError(
                    f"identities.{index}.installation_id",
                    "No source installation of this organisation has this id.",
                )
            )
        if ref in seen:
            problems.append(FieldError(f"identities.{index}", "This identity is listed twice."))
        seen.add(ref)
    return problems


def _needs_email_or_identity() -> FieldError:
    return FieldError("email", "A user needs an email or at least one identity.")


def _sources_for(items: Sequence[UserInput]) -> set[UUID]:
    return source_installation_ids(ref.installation_id for item in items for ref in item.identities)


def _check_input(data: UserInput, *, sources: set[UUID], creating: bool) -> None:
    problems = _input_problems(data, sources=sources)
    if creating and not data.email and not data.identities:
        problems.append(_needs_email_or_identity())
    if problems:
        raise validation_error("The user is not valid.", problems)


def _refuse_taken(data: UserInput, *, owner: UUID | None) -> None:
    """409 when the email or an identity belongs to a user other than `owner`."""
    problems = []
    if "email" in data.given and data.email:
        other = customer_ids_by_email([data.email]).get(data.email.lower())
        if other is not None and other != owner:
            problems.append(FieldError("email", "Another user has this email."))
    if "identities" in data.given:
        owners = identity_owners(ref.key for ref in data.identities)
        for index, ref in enumerate(data.identities):
            if owners.get(ref.key, owner) != owner:
                problems.append(
                    FieldError(
                        f"identities.{index}.external_id",
                        "Another user has this identity on this installation.",
                    )
                )
    if problems:
        code = "email_taken" if problems[0].field == "email" else "identity_taken"
        raise ApplicationError(
            detail="Another user already has this email or identity.",
            code=code,
            status=409,
            errors=problems,
        )


@contextmanager
def _atomic_write() -> Iterator[None]:
    """One transaction; a unique-constraint race with another request becomes a 409."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        raise ApplicationError(
            detail="Another request changed the same users at the same time. Retry.",
            code="conflict",
            status=409,
        ) from exc


# Changes -----------------------------------------------------------------------------


def _current_refs(customer: Customer) -> set[IdentityRef]:
    return {IdentityRef(i.installation_id, i.external_id) for i in customer.identities.all()}


def _change_for_update(customer: Customer, data: UserInput) -> _Change:
    """Apply the given fields to `customer` in memory; what changed, for `_apply`."""
    change = _Change(customer)
    for name in ("email", "name", "properties"):
        if name in data.given and getattr(customer, name) != getattr(data, name):
            setattr(customer, name, getattr(data, name))
            change.fields.append(name)
    current = _current_refs(customer)
    if "identities" in data.given and set(data.identities) != current:
        change.identities = data.identities
    has_identity = bool(data.identities if change.identities is not None else current)
    if not customer.email and not has_identity:
        raise validation_error("The user is not valid.", [_needs_email_or_identity()])
    return change


def _new_customer(data: UserInput) -> _Change:
    customer = Customer(email=data.email, name=data.name, properties=data.properties)
    return _Change(customer, created=True, identities=data.identities or None)


def _apply(changes: Sequence[_Change], *, now: datetime) -> None:
    created = [c.customer for c in changes if c.created]
    updated = [c for c in changes if not c.created and c.changed]
    if created:
        Customer.objects.bulk_create(created, batch_size=WRITE_BATCH_SIZE)
    if updated:
        for change in updated:
            change.customer.updated_at = now
        fields = sorted({name for c in updated for name in c.fields} | {"updated_at"})
        Customer.objects.bulk_update(
            [c.customer for c in updated], fields, batch_size=WRITE_BATCH_SIZE
        )
    identities_set(
        assignments={c.customer: c.identities for c in changes if c.identities is not None},
        new_customers={c.customer.pk for c in changes if c.created},
    )


def identities_set(
    *,
    assignments: dict[Customer, tuple[IdentityRef, ...]],
    new_customers: Collection[UUID] = frozenset(),
) -> list[Identity]:
    """Make each user's identities exactly the given ones; the one writer of identities.

    Runs inside the caller's transaction, after the callers checked that no identity
    belongs to another user. `new_customers` were created in this transaction and have
    no identities yet (nothing to look up). Returns the identities linked by this call.
    """
    if not assignments:
        return []
    wanted = {customer.pk: set(refs) for customer, refs in assignments.items()}
    stale, existing = [], set()
    known = [pk for pk in wanted if pk not in new_customers]
    for identity in Identity.objects.filter(customer_id__in=known) if known else ():
        ref = IdentityRef(identity.installation_id, identity.external_id)
        if ref in wanted[identity.customer_id]:
            existing.add((identity.customer_id, ref))
        else:
            stale.append(identity.pk)
    if stale:
        Identity.objects.filter(pk__in=stale).delete()
    linked = Identity.objects.bulk_create(
        [
            Identity(
                customer=customer,
                installation_id=ref.installation_id,
                external_id=ref.external_id,
            )
            for customer, refs in assignments.items()
            for ref in refs
            if (customer.pk, ref) not in existing
        ],
        batch_size=WRITE_BATCH_SIZE,
    )
    deliveries_release_for_identities(organisation=connection.tenant, identities=linked)
    return linked


def _audit_user(*, actor: Actor, action: str, customer_id: UUID, changes: dict) -> None:
    # The label is the id: audit rows outlive the user and must hold no personal data.
    audit_record(
        actor=actor,
        action=action,
        target=Customer(pk=customer_id),
        target_label=str(customer_id),
        changes=changes,
    )


def _changed_names(change: _Change) -> list[str]:
    return change.fields + (["identities"] if change.identities is not None else [])


# Services ----------------------------------------------------------------------------


def customer_create(*, data: UserInput, actor: Actor) -> Customer:
    """Create a user; 409 when its email or an identity is another user's."""
    _check_input(data, sources=_sources_for([data]), creating=True)

    with _atomic_write():
        _refuse_taken(data, owner=None)
        change = _new_customer(data)
        _apply([change], now=timezone.now())
        _audit_user(
            actor=actor,
            action="user.created",
            customer_id=change.customer.pk,
            changes={"fields": sorted(data.given & USER_FIELDS)},
        )

    return change.customer


def customer_update(*, customer: Customer, data: UserInput, actor: Actor) -> Customer:
    """Change the given fields; `identities`, when given, replaces the user's identities."""
    _check_input(data, sources=_sources_for([data]), creating=False)

    with _atomic_write():
        locked = Customer.objects.select_for_update().filter(pk=customer.pk).first()
        if locked is None:
            raise ApplicationError(detail="Not found.", code="not_found", status=404)
        locked = customers_with_identities([locked.pk])[locked.pk]
        _refuse_taken(data, owner=locked.pk)
        change = _change_for_update(locked, data)
        if change.changed:
            _apply([change], now=timezone.now())
            _audit_user(
                actor=actor,
                action="user.updated",
                customer_id=locked.pk,
                changes={"fields": _changed_names(change)},
            )

    return locked


def customer_delete(*, customer: Customer, actor: Actor) -> None:
    """Delete a user's personal data: the user and its identities.

    Its purchases stay as anonymous figures: the link to the user and the platform's
    customer id are removed, amounts, currencies, items and times are kept. Events
    already delivered to analytics tools are not recalled.
    """
    with transaction.atomic():
        unlinked = Purchase.objects.filter(customer_id=customer.pk).update(
            customer=None, external_customer_id=""
        )
        deleted, _ = Customer.objects.filter(pk=customer.pk).delete()
        if not deleted:
            raise ApplicationError(detail="Not found.", code="not_found", status=404)
        _audit_user(
            actor=actor,
            action="user.deleted",
            customer_id=customer.pk,
            changes={"purchases_unlinked": unlinked},
        )


def _keys(item: UserInput) -> set[tuple]:
    keys = {("identity", *ref.key) for ref in item.identities}
    if item.email:
        keys.add(("email", item.email.lower()))
    return keys


def _error(index: int, error: ApplicationError) -> BulkResult:
    return BulkResult(index=index, status="error", error=error)


def _repeats_dropped(
    candidates: list[tuple[int, UserInput]], results: dict[int, BulkResult]
) -> list[tuple[int, UserInput]]:
    """Keep the first item for each email or identity; later ones are errors."""
    first_with: dict[tuple, int] = {}
    kept = []
    for index, item in candidates:
        keys = _keys(item)
        earlier = sorted({first_with[key] for key in keys if key in first_with})
        if earlier:
            results[index] = _error(
                index,
                ApplicationError(
                    detail=f"Item {earlier[0]} of this request has the same email or identity.",
                    code="duplicate_in_request",
                    status=409,
                ),
            )
            continue
        first_with.update(dict.fromkeys(keys, index))
        kept.append((index, item))
    return kept


def ensure_bulk_size(count: int) -> None:
    if count > BULK_MAX_USERS:
        raise ApplicationError(
            detail=f"At most {BULK_MAX_USERS} users per call; split the list.",
            code="too_many_items",
            status=413,
        )


def customers_bulk_upsert(
    *, items: Sequence[UserInput | ApplicationError], actor: Actor
) -> list[BulkResult]:
    """Create or update up to `BULK_MAX_USERS` users, each matched by email or identity.

    An item that matches a user updates the fields it gives (`identities` replaces the
    user's identities); one that matches none creates a user. Matching uses the users as
    they were before the call. Items that fail (invalid, matching two different users,
    repeating an earlier item's email or identity) are reported and written not at all;
    the others are written together in one transaction.
    """
    ensure_bulk_size(len(items))
    results: dict[int, BulkResult] = {}
    parsed = [(i, item) for i, item in enumerate(items) if isinstance(item, UserInput)]
    sources = _sources_for([item for _, item in parsed])
    candidates = []
    for index, item in enumerate(items):
        if isinstance(item, ApplicationError):
            results[index] = _error(index, item)
            continue
        try:
            _check_input(item, sources=sources, creating=True)
        except ApplicationError as exc:
            results[index] = _error(index, exc)
            continue
        candidates.append((index, item))
    candidates = _repeats_dropped(candidates, results)

    with _atomic_write():
        by_email = customer_ids_by_email(item.email for _, item in candidates if item.email)
        owners = identity_owners(ref.key for _, item in candidates for ref in item.identities)
        loaded = customers_with_identities({*by_email.values(), *owners.values()})
        changes, claimed = [], set()
        for index, item in candidates:
            matched = {owners[ref.key] for ref in item.identities if ref.key in owners}
            if item.email and item.email.lower() in by_email:
                matched.add(by_email[item.email.lower()])
            if len(matched) > 1 or (matched and matched & claimed):
                results[index] = _error(index, _ambiguous(len(matched) > 1))
                continue
            if not matched:
                change = _new_customer(item)
                results[index] = BulkResult(index, "created", change.customer.pk)
                changes.append(change)
                continue
            customer = loaded[matched.pop()]
            claimed.add(customer.pk)
            try:
                change = _change_for_update(customer, item)
            except ApplicationError as exc:
                results[index] = _error(index, exc)
                continue
            results[index] = BulkResult(
                index, "updated" if change.changed else "unchanged", customer.pk
            )
            if change.changed:
                changes.append(change)
        _apply(changes, now=timezone.now())
        counts = _count(results.values())
        audit_record(actor=actor, action="users.bulk_upserted", changes=counts)

    # LogRecord has a `created` attribute of its own: prefix the counts.
    logger.info("users_bulk_upserted", extra={f"users_{k}": n for k, n in counts.items()})
    return [results[index] for index in range(len(items))]


def _ambiguous(two_users: bool) -> ApplicationError:
    if two_users:
        return ApplicationError(
            detail="The email and identities of this item belong to different users.",
            code="ambiguous_match",
            status=409,
        )
    return ApplicationError(
        detail="An earlier item of this request already matched the same user.",
        code="duplicate_in_request",
        status=409,
    )


def _count(results) -> dict[str, int]:
    counts = dict.fromkeys(("created", "updated", "unchanged", "error"), 0)
    for result in results:
        counts[result.status] += 1
    return counts
