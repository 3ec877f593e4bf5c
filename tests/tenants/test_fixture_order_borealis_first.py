"""CASES C12: with test_fixture_order_acme_first.py, run in either order.

The mirror image of that module: borealis first, fixtures requested the other way
round, and the same checks that each test starts on the public schema.
"""

import pytest

from .order_checks import (
    assert_on_public,
    assert_public_site_is_served,
    assert_serves_only_itself,
    leave_connection_inside,
)


@pytest.fixture(autouse=True)
def _starts_on_public():
    assert_on_public()
    yield


def test_borealis_serves_its_own_data_and_leaves_its_schema_active(borealis, acme):
    assert_serves_only_itself(borealis, acme)

    leave_connection_inside(borealis)


def test_acme_after_it_starts_on_public(acme, borealis):
    assert_serves_only_itself(acme, borealis)

    leave_connection_inside(acme)


@pytest.mark.django_db(transaction=True)
def test_a_committing_test_sees_both_organisations_and_the_public_site(borealis, acme):
    assert_public_site_is_served()
    assert_serves_only_itself(borealis, acme)
    assert_serves_only_itself(acme, borealis)

    leave_connection_inside(borealis)
