"""The deliveries pages: lists, timeline, retries, replay, resume, stuck; roles; tenants."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_tenants.utils import tenant_context

from accounts.models import AuditEntry, Member, Role
from catalog_integrations.models import Installation
from events.models import Delivery, DeliveryAttempt

from .dispatch_support import deliveries_of, mixpanel_install, purchase_record, source_install


@pytest.fixture
def viewer(acme):
    with tenant_context(acme.organisation):
        member = Member.objects.create_user(
            email="viewer@acme.test", password="viewer-password-123", role=Role.VIEWER
        )
    return acme.signed_in(member)


@pytest.fixture
def shop(acme, receiver):
    """acme with two destinations and purchases in several delivery states."""
    main = mixpanel_install(acme, receiver, name="Main project")
    other = mixpanel_install(acme, receiver, name="Other project")
    source = source_install(acme)
    for key in ("1001", "1002", "1003"):
        purchase_record(acme, source, [main, other], key=key)
    with tenant_context(acme.organisation):
        Delivery.objects.filter(destination=main, purchase__dedupe_key="1001").update(
            state="dead", attempts=12, last_error="Mixpanel answered HTTP 503: unavailable"
        )
        Delivery.objects.filter(destination=main, purchase__dedupe_key="1002").update(
            state="failed", attempts=2, next_attempt_at=timezone.now() + timedelta(minutes=5)
        )
        Delivery.objects.filter(destination=other).update(state="delivered", attempts=1)
    return {"main": main, "other": other, "source": source}


def _audit(org, action) -> list:
    with tenant_context(org.organisation):
        return list(AuditEntry.objects.filter(action=action).values_list("actor_label", "changes"))


def _rows(response) -> int:
    return response.content.decode().count('<tr id="delivery-')


def test_deliveries_are_listed_by_state_and_destination(acme, shop):
    admin = acme.signed_in()

    everything = admin.get("/deliveries/")
    dead = admin.get("/deliveries/?state=dead")
    main = admin.get(f"/deliveries/?destination={shop['main'].pk}")
    delivered_main = admin.get(f"/deliveries/?destination={shop['main'].pk}&state=delivered")

    assert everything.status_code == 200
    assert (_rows(everything), _rows(dead), _rows(main), _rows(delivered_main)) == (6, 1, 3, 0)
    assert "Mixpanel answered HTTP 503: unavailable" in dead.content.decode()


def test_the_state_links_read_as_words_not_codes(acme, shop):
    page = acme.signed_in().get("/deliveries/").content.decode()

    assert '<a href="?state=awaiting_identity">Awaiting identity</a>: 0' in page
    assert '<a href="?state=in_flight">In flight</a>: 0' in page
    assert "Awaiting_identity" not in page
    assert "In_flight" not in page


def test_the_list_labels_each_value_so_a_phone_shows_rows_as_cards(acme, shop):
    page = acme.signed_in().get("/deliveries/").content.decode()

    assert '<table class="list">' in page
    assert page.count('<td data-label="State">') == 6


def test_the_list_answers_htmx_with_just_the_rows(acme, shop):
    response = acme.signed_in().get("/deliveries/?state=failed", HTTP_HX_REQUEST="true")

    assert _rows(response) == 1
    assert "<h1>" not in response.content.decode()


def test_an_odd_filter_is_ignored_not_an_error(acme, shop):
    response = acme.signed_in().get("/deliveries/?state=nonsense&destination=%zz&page=x")

    assert response.status_code == 200
    assert _rows(response) == 6


def test_a_purchases_timeline_shows_every_attempt(acme, shop):
    with tenant_context(acme.organisation):
        delivery = Delivery.objects.get(destination=shop["main"], purchase__dedupe_key="1001")
        DeliveryAttempt.objects.create(
            delivery=delivery, status_code=503, outcome="failed", error="first try failed"
        )
        DeliveryAttempt.objects.create(
            delivery=delivery, status_code=429, outcome="dead", error="last try failed"
        )

    page = acme.signed_in().get(f"/deliveries/purchases/{delivery.purchase_id}/")

    body = page.content.decode()
    assert page.status_code == 200
    assert body.index("first try failed") < body.index("last try failed")
    assert delivery.insert_id in body


def test_viewers_see_the_timeline_with_distinct_ids_masked_and_no_retry(acme, shop, viewer):
    [delivery] = deliveries_of(acme, destination=shop["main"], purchase__dedupe_key="1001")
    with tenant_context(acme.organisation):
        Delivery.objects.filter(pk=delivery.pk).update(distinct_id="user-4242")

    page = viewer.get(f"/deliveries/purchases/{delivery.purchase_id}/")
    as_admin = acme.signed_in().get(f"/deliveries/purchases/{delivery.purchase_id}/")

    assert page.status_code == 200
    assert "user-4242" not in page.content.decode()
    assert "user-4242" in as_admin.content.decode()
    assert "Retry this delivery" not in page.content.decode()


def test_viewers_see_emails_in_delivery_errors_and_responses_masked(acme, shop, viewer):
    [delivery] = deliveries_of(acme, destination=shop["main"], purchase__dedupe_key="1001")
    leaked = "rejected distinct_id alice.shopper@example.com"
    with tenant_context(acme.organisation):
        Delivery.objects.filter(pk=delivery.pk).update(last_error=leaked)
        DeliveryAttempt.objects.create(
            delivery=delivery,
            status_code=400,
            outcome="rejected",
            error=leaked,
            response_excerpt='{"failed_records": [{"message": "alice.shopper@example.com"}]}',
        )
    timeline = f"/deliveries/purchases/{delivery.purchase_id}/"

    pages = [viewer.get(timeline), viewer.get("/deliveries/?state=dead")]
    as_admin = acme.signed_in().get(timeline).content.decode()

    for page in pages:
        assert page.status_code == 200
        assert "alice.shopper@example.com" not in page.content.decode()
        assert "a***@example.com" in page.content.decode()
    assert "alice.shopper@example.com" in as_admin


def test_an_admin_retries_one_delivery_with_fresh_attempts(
    acme, shop, queue, django_capture_on_commit_callbacks
):
    [dead] = deliveries_of(acme, state="dead")

    with django_capture_on_commit_callbacks(execute=True):
        response = acme.signed_in().post(f"/deliveries/{dead.pk}/retry/")

    assert response.status_code == 302
    [retried] = deliveries_of(acme, pk=dead.pk)
    assert (retried.state, retried.attempts, retried.last_error) == ("pending", 0, "")
    assert _audit(acme, "delivery.retried") == [("admin@acme.test", {"state": ["dead", "pending"]})]
    assert queue.dispatches() == [("acme", str(shop["main"].pk))]


def test_a_delivered_delivery_cannot_be_retried(acme, shop):
    [delivered] = deliveries_of(acme, state="delivered", purchase__dedupe_key="1001")

    response = acme.signed_in().post(f"/deliveries/{delivered.pk}/retry/", follow=True)

    assert "Only failed, dead or rejected deliveries can be retried" in response.content.decode()
    assert deliveries_of(acme, pk=delivered.pk)[0].state == "delivered"


def test_an_admin_retries_every_failed_and_dead_delivery_of_a_destination(acme, shop, queue):
    response = acme.signed_in().post(f"/deliveries/destinations/{shop['main'].pk}/retry-failed/")

    assert response.status_code == 302
    states = sorted(d.state for d in deliveries_of(acme, destination=shop["main"]))
    assert states == ["pending", "pending", "pending"]
    assert _audit(acme, "deliveries.retried") == [
        ("admin@acme.test", {"count": 2, "states": ["failed", "dead"]})
    ]


def test_replay_sends_a_time_range_again_and_backfills_what_was_never_sent(acme, shop, receiver):
    late = mixpanel_install(acme, receiver, name="Installed later")
    now = timezone.now()
    old = purchase_record(
        acme, shop["source"], [], key="0900", occurred_at=now - timedelta(days=40)
    )
    fmt = "%Y-%m-%dT%H:%M"

    backfill = acme.signed_in().post(
        f"/deliveries/destinations/{late.pk}/replay/",
        {"start": (now - timedelta(days=1)).strftime(fmt), "end": now.strftime(fmt)},
    )
    replay = acme.signed_in().post(
        f"/deliveries/destinations/{shop['other'].pk}/replay/",
        {"start": (now - timedelta(days=1)).strftime(fmt), "end": now.strftime(fmt)},
    )

    assert (backfill.status_code, replay.status_code) == (302, 302)
    backfilled = deliveries_of(acme, destination=late)
    assert sorted(d.purchase.dedupe_key for d in backfilled) == ["1001", "1002", "1003"]
    assert {(d.state, d.distinct_id) for d in backfilled} == {("pending", "")}
    assert [d.state for d in deliveries_of(acme, destination=shop["other"])] == ["pending"] * 3
    assert deliveries_of(acme, purchase=old) == []
    assert [c["created"] for _, c in _audit(acme, "deliveries.replayed")] == [0, 3]


def test_a_replay_range_that_ends_before_it_starts_is_refused(acme, shop):
    response = acme.signed_in().post(
        f"/deliveries/destinations/{shop['main'].pk}/replay/",
        {"start": "2024-05-02T00:00", "end": "2024-05-01T00:00"},
    )

    assert response.status_code == 400
    assert "The end must be after the start." in response.content.decode()
    assert _audit(acme, "deliveries.replayed") == []


def test_the_backfill_page_is_offered_with_the_last_thirty_days(acme, shop):
    response = acme.signed_in().get(
        f"/deliveries/destinations/{shop['main'].pk}/replay/?backfill=1"
    )

    assert response.status_code == 200
    assert "Backfill to Main project" in response.content.decode()


def test_a_paused_destination_shows_a_banner_and_an_admin_resumes_it(acme, shop, queue):
    with tenant_context(acme.organisation):
        Installation.objects.filter(pk=shop["main"].pk).update(
            paused_at=timezone.now(), paused_reason="Mixpanel refused the credentials (HTTP 401)"
        )
    admin = acme.signed_in()

    banner = admin.get("/deliveries/")
    resumed = admin.post(f"/deliveries/destinations/{shop['main'].pk}/resume/")
    after = admin.get("/deliveries/")

    assert "Sending to Main project is paused" in banner.content.decode()
    assert resumed.status_code == 302
    assert "is paused" not in after.content.decode()
    with tenant_context(acme.organisation):
        assert Installation.objects.get(pk=shop["main"].pk).paused_at is None
    assert [label for label, _ in _audit(acme, "installation.resumed")] == ["admin@acme.test"]


@pytest.mark.parametrize(
    "path",
    [
        "/deliveries/{delivery}/retry/",
        "/deliveries/destinations/{destination}/retry-failed/",
        "/deliveries/destinations/{destination}/resume/",
        "/deliveries/destinations/{destination}/replay/",
    ],
)
def test_viewers_may_not_change_deliveries(acme, shop, viewer, path):
    [dead] = deliveries_of(acme, state="dead")
    url = path.format(delivery=dead.pk, destination=shop["main"].pk)

    response = viewer.post(url, {"start": "2024-01-01T00:00", "end": "2024-02-01T00:00"})

    assert response.status_code == 403
    assert deliveries_of(acme, pk=dead.pk)[0].state == "dead"
    with tenant_context(acme.organisation):
        assert AuditEntry.objects.filter(action__startswith="deliver").count() == 0


def test_viewers_may_look_at_deliveries(acme, shop, viewer):
    for path in (
        "/deliveries/",
        "/deliveries/stuck/",
        f"/deliveries/?destination={shop['main'].pk}",
    ):
        assert viewer.get(path).status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in(acme, shop):
    response = acme.client().get("/deliveries/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_installation_summary_partial_counts_what_events_holds(acme, shop):
    response = acme.signed_in().get(f"/deliveries/installations/{shop['main'].pk}/summary/")

    assert response.content.decode().strip() == (
        "<p>Main project has 0 purchases recorded and deliveries: 1 pending, 1 failed, 1 dead.</p>"
    )


def test_the_installation_summary_names_states_in_words(acme, shop):
    with tenant_context(acme.organisation):
        Delivery.objects.filter(destination=shop["main"], state="pending").update(
            state="awaiting_identity"
        )

    response = acme.signed_in().get(f"/deliveries/installations/{shop['main'].pk}/summary/")

    assert response.content.decode().strip() == (
        "<p>Main project has 0 purchases recorded and deliveries: "
        "1 awaiting identity, 1 failed, 1 dead.</p>"
    )


# Cross-tenant ------------------------------------------------------------------------


def test_another_organisations_deliveries_are_not_found_on_this_host(acme, borealis, receiver):
    theirs = mixpanel_install(borealis, receiver)
    purchase = purchase_record(borealis, source_install(borealis), [theirs])
    [delivery] = deliveries_of(borealis)
    with tenant_context(borealis.organisation):
        Delivery.objects.update(state="dead")
    admin = acme.signed_in()

    answers = [
        admin.get(f"/deliveries/purchases/{purchase.pk}/").status_code,
        admin.post(f"/deliveries/{delivery.pk}/retry/").status_code,
        admin.post(f"/deliveries/destinations/{theirs.pk}/retry-failed/").status_code,
        admin.post(f"/deliveries/destinations/{theirs.pk}/resume/").status_code,
        admin.get(f"/deliveries/destinations/{theirs.pk}/replay/").status_code,
        admin.get(f"/deliveries/installations/{theirs.pk}/summary/").status_code,
    ]
    listed = admin.get("/deliveries/?state=dead")

    assert answers == [404] * 6
    assert delivery.insert_id not in listed.content.decode()
    assert deliveries_of(borealis)[0].state == "dead"


def test_a_session_from_one_organisation_is_no_use_on_another(acme, borealis):
    client = acme.signed_in()

    response = client.get("/deliveries/", HTTP_HOST=borealis.host)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_every_portal_page_loads_the_paused_banner(acme, shop):
    with tenant_context(acme.organisation):
        Installation.objects.filter(pk=shop["main"].pk).update(
            paused_at=timezone.now(), paused_reason="Mixpanel refused the credentials (HTTP 401)"
        )
    admin = acme.signed_in()

    home = admin.get("/").content.decode()
    catalog = admin.get("/integrations/").content.decode()
    banner = admin.get("/deliveries/paused-banner/", HTTP_HX_REQUEST="true").content.decode()

    resume = f'action="/deliveries/destinations/{shop["main"].pk}/resume/"'
    for page in (home, catalog, banner):
        assert "Sending to Main project is paused" in page
        assert resume in page


def test_no_banner_while_nothing_is_paused(acme, shop):
    assert "is paused" not in acme.signed_in().get("/").content.decode()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/"])
def test_a_retry_never_returns_to_another_site(acme, shop, target):
    [dead] = deliveries_of(acme, state="dead")

    response = acme.signed_in().post(f"/deliveries/{dead.pk}/retry/", {"next": target})

    assert response["Location"] == f"/deliveries/purchases/{dead.purchase_id}/"
