"""CASES C12: with test_fixture_order_borealis_first.py, run in either order.

Every test starts on the public schema (the autouse check) although the previous one
left its organisation active. pytest-django runs committing tests after all others;
each module has one, and whichever runs second meets the tables the first one's flush
emptied: the fixtures must still hand it both organisations.
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


def test_acme_serves_its_own_data_and_leaves_its_schema_active(acme, borealis):
    assert_serves_only_itself(acme, borealis)

    leave_connection_inside(acme)


def test_borealis_after_it_starts_on_public(borealis, acme):
    assert_serves_only_itself(borealis, acme)

    leave_connection_inside(borealis)


@pytest.mark.django_db(transaction=True)
def test_a_committing_test_sees_both_organisations_and_the_public_site(acme, borealis):
    assert_public_site_is_served()
    assert_serves_only_itself(acme, borealis)
    assert_serves_only_itself(borealis, acme)

    leave_connection_inside(acme)
