"""The work-due mark keeps an organisation's earliest time, and always locks its row."""

from datetime import timedelta

import psycopg
import pytest
from django.db import connection, transaction
from django.utils import timezone

from events.services.deliveries import work_due_mark
from tenants.models import WorkDue


def _other_connection() -> psycopg.Connection:
    params = connection.get_connection_params()
    wanted = {k: params[k] for k in ("dbname", "user", "password", "host", "port") if params.get(k)}
    return psycopg.connect(**wanted, autocommit=True)


def test_the_earliest_time_is_kept(acme):
    now = timezone.now()

    work_due_mark(organisation=acme.organisation, due_at=now + timedelta(minutes=5))
    work_due_mark(organisation=acme.organisation, due_at=now + timedelta(minutes=9))
    kept_earlier = WorkDue.objects.get(organisation=acme.organisation).due_at
    work_due_mark(organisation=acme.organisation, due_at=now + timedelta(minutes=1))
    moved_earlier = WorkDue.objects.get(organisation=acme.organisation).due_at

    assert kept_earlier == now + timedelta(minutes=5)
    assert moved_earlier == now + timedelta(minutes=1)


def test_a_later_mark_leaves_the_row_as_it_is_but_locked_until_commit(transactional_db, acme):
    now = timezone.now()
    work_due_mark(organisation=acme.organisation, due_at=now)
    with _other_connection() as other:
        version = other.execute(
            "SELECT xmin::text FROM tenants_workdue WHERE organisation_id = %s",
            [acme.organisation.pk],
        ).fetchone()[0]

        with transaction.atomic():
            work_due_mark(organisation=acme.organisation, due_at=now + timedelta(hours=1))
            with pytest.raises(psycopg.errors.LockNotAvailable):
                other.execute(
                    "SELECT 1 FROM tenants_workdue WHERE organisation_id = %s FOR UPDATE NOWAIT",
                    [acme.organisation.pk],
                )
        after = other.execute(
            "SELECT xmin::text, due_at FROM tenants_workdue WHERE organisation_id = %s",
            [acme.organisation.pk],
        ).fetchone()

    assert after == (version, now)
