"""The team page: members and roles; inviting, changing a role and removing, by admins.

An organisation always keeps one admin; every change is audited.
"""

import re

import pytest
from django.core import mail
from django_tenants.utils import tenant_context

from accounts.actors import Actor
from accounts.errors import ApplicationError
from accounts.models import AuditEntry, Member, Role
from accounts.services import member_remove, member_set_role

NEW_PASSWORD = "a-long-new-password-42"


def _member(org, email: str, role: str = Role.VIEWER) -> Member:
    with tenant_context(org.organisation):
        return Member.objects.create_user(email=email, password="x" * 12, role=role)


def _audit(org, action: str) -> list[AuditEntry]:
    with tenant_context(org.organisation):
        return list(AuditEntry.objects.filter(action=action))


def test_the_team_page_lists_members_with_their_roles(acme):
    _member(acme, "vera@acme.test")

    response = acme.signed_in().get("/team/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "admin@acme.test <small>(you)</small>" in page
    assert "vera@acme.test" in page
    assert page.count('<td data-label="Role">Viewer</td>') == 1
    assert page.count('<td data-label="Role">Admin</td>') == 1
    assert 'action="/team/invite/"' in page


def test_viewers_see_the_team_masked_and_without_forms(acme):
    viewer = _member(acme, "vera@acme.test")

    page = acme.signed_in(viewer).get("/team/").content.decode()

    assert "a***@acme.test" in page
    assert "admin@acme.test" not in page
    assert '<form method="post" action="/team/' not in page


def test_an_invitee_gets_a_link_to_set_a_password_and_then_signs_in(
    acme, django_capture_on_commit_callbacks
):
    client = acme.signed_in()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/team/invite/", {"email": "New@Acme.test", "role": "viewer"})

    assert response.status_code == 302
    assert response.url == "/team/"
    (invite,) = mail.outbox
    assert invite.to == ["new@acme.test"]
    assert invite.subject == "You are invited to Acme Corp"
    link = re.search(r"http://\S+", invite.body).group(0)
    assert link.startswith("http://acme.localhost/accounts/password/reset/key/")
    with tenant_context(acme.organisation):
        invitee = Member.objects.get(email="new@acme.test")
        assert invitee.role == Role.VIEWER
        assert invitee.has_usable_password() is False
    (entry,) = _audit(acme, "member.invited")
    assert (entry.actor_label, entry.target_label) == ("admin@acme.test", "new@acme.test")
    assert entry.changes == {"email": "new@acme.test", "role": "viewer"}

    invitee_client = acme.client()
    form_url = invitee_client.get(link.removeprefix("http://acme.localhost")).url
    response = invitee_client.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 302

    response = invitee_client.post(
        "/accounts/login/", {"login": "new@acme.test", "password": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert invitee_client.get("/").status_code == 200
    assert invitee_client.get(form_url).status_code in (200, 302)
    assert "Active" in client.get("/team/").content.decode()


def test_an_invite_link_works_once(acme, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        acme.signed_in().post("/team/invite/", {"email": "once@acme.test", "role": "admin"})
    path = re.search(r"http://\S+", mail.outbox[0].body).group(0).split("acme.localhost")[1]
    first = acme.client()
    form_url = first.get(path).url
    first.post(form_url, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    second = acme.client().get(path)

    assert second.status_code == 200
    assert b"password reset link was invalid" in second.content.lower().replace(b"\n", b" ")


@pytest.mark.parametrize(
    "data, field_error",
    [
        ({"email": "admin@acme.test", "role": "viewer"}, b"Already a member."),
        ({"email": "ADMIN@acme.test", "role": "viewer"}, b"Already a member."),
        ({"email": "not-an-email", "role": "viewer"}, b"Enter a valid email address."),
        ({"email": "x@acme.test", "role": "owner"}, b"Select a valid choice."),
    ],
)
def test_bad_invitations_are_refused_and_send_nothing(acme, data, field_error):
    response = acme.signed_in().post("/team/invite/", data)

    assert response.status_code == 422
    assert field_error in response.content
    assert mail.outbox == []
    with tenant_context(acme.organisation):
        assert Member.objects.count() == 1


def test_an_admin_changes_a_role(acme):
    vera = _member(acme, "vera@acme.test")

    response = acme.signed_in().post(f"/team/{vera.pk}/role/", {"role": "admin"})

    assert response.status_code == 302
    with tenant_context(acme.organisation):
        assert Member.objects.get(pk=vera.pk).role == Role.ADMIN
    (entry,) = _audit(acme, "member.role_changed")
    assert entry.changes == {"role": ["viewer", "admin"]}
    assert entry.target_id == str(vera.pk)


def test_setting_the_same_role_changes_nothing(acme):
    vera = _member(acme, "vera@acme.test")

    acme.signed_in().post(f"/team/{vera.pk}/role/", {"role": "viewer"})

    assert _audit(acme, "member.role_changed") == []


def test_the_last_admin_cannot_be_demoted(acme):
    response = acme.signed_in().post(f"/team/{acme.admin.pk}/role/", {"role": "viewer"})

    assert response.status_code == 409
    assert b"last admin" in response.content
    with tenant_context(acme.organisation):
        assert Member.objects.get(pk=acme.admin.pk).role == Role.ADMIN
    assert _audit(acme, "member.role_changed") == []


def test_an_admin_may_demote_themselves_while_another_admin_remains(acme):
    _member(acme, "second@acme.test", Role.ADMIN)

    response = acme.signed_in().post(f"/team/{acme.admin.pk}/role/", {"role": "viewer"})

    assert response.status_code == 302
    with tenant_context(acme.organisation):
        assert Member.objects.get(pk=acme.admin.pk).role == Role.VIEWER


def test_an_admin_removes_a_member_whose_session_then_ends(acme):
    vera = _member(acme, "vera@acme.test")
    vera_client = acme.signed_in(vera)
    assert vera_client.get("/").status_code == 200

    confirm = acme.signed_in().get(f"/team/{vera.pk}/remove/")
    response = acme.signed_in().post(f"/team/{vera.pk}/remove/")

    assert b"Remove vera@acme.test?" in confirm.content
    assert response.status_code == 302
    with tenant_context(acme.organisation):
        assert not Member.objects.filter(pk=vera.pk).exists()
    (entry,) = _audit(acme, "member.removed")
    assert entry.changes == {"email": "vera@acme.test", "role": "viewer"}
    assert entry.target_id == str(vera.pk)
    assert vera_client.get("/").url == "/accounts/login/?next=/"


def test_the_last_admin_cannot_be_removed(acme):
    _member(acme, "vera@acme.test")

    response = acme.signed_in().post(f"/team/{acme.admin.pk}/remove/")

    assert response.status_code == 409
    assert b"last admin" in response.content
    with tenant_context(acme.organisation):
        assert Member.objects.filter(pk=acme.admin.pk).exists()


def test_two_admins_cannot_leave_the_organisation_without_one(acme):
    second = _member(acme, "second@acme.test", Role.ADMIN)
    actor = Actor.member(acme.admin)

    with tenant_context(acme.organisation):
        member_set_role(member=second, role=Role.VIEWER, actor=actor)
        with pytest.raises(ApplicationError) as demoting:
            member_set_role(member=acme.admin, role=Role.VIEWER, actor=actor)
        with pytest.raises(ApplicationError) as removing:
            member_remove(member=acme.admin, actor=actor)

    assert demoting.value.code == removing.value.code == "last_admin"
    assert demoting.value.status == 409


def test_unknown_members_are_404(acme):
    client = acme.signed_in()

    assert client.get("/team/999999/role/").status_code == 404
    assert client.post("/team/999999/remove/").status_code == 404


@pytest.mark.parametrize(
    "method, path, data",
    [
        ("get", "/team/invite/", {}),
        ("post", "/team/invite/", {"email": "sneaky@acme.test", "role": "admin"}),
        ("post", "/team/{pk}/role/", {"role": "admin"}),
        ("post", "/team/{pk}/remove/", {}),
    ],
)
def test_viewers_can_change_nothing(acme, method, path, data):
    viewer = _member(acme, "vera@acme.test")

    response = getattr(acme.signed_in(viewer), method)(path.format(pk=viewer.pk), data)

    assert response.status_code == 403
    with tenant_context(acme.organisation):
        assert Member.objects.get(pk=viewer.pk).role == Role.VIEWER
        assert Member.objects.count() == 2
    assert mail.outbox == []


def test_borealis_admins_cannot_touch_acme_members(acme, borealis):
    vera = _member(acme, "vera-only-in-acme@acme.test")

    client = borealis.signed_in()

    assert client.post(f"/team/{vera.pk}/remove/").status_code == 404
    assert (
        client.post(
            "/team/invite/", {"email": "x@borealis.test", "role": "viewer"}, HTTP_HOST=acme.host
        ).status_code
        == 302
    )  # to sign in: the session is borealis's
    with tenant_context(acme.organisation):
        assert Member.objects.filter(pk=vera.pk).exists()
        assert not Member.objects.filter(email="x@borealis.test").exists()
