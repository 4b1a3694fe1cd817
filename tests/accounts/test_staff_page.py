"""The Staff page: each row's controls named for their row, the Active checkbox with its own
label, and the signed-in Administrator's own role shown as it is."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from accounts.models import User
from accounts.roles import ADMINISTRATOR, FINANCE, ROLES, SUPPORT
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def staff_page(client, viewer: User) -> str:
    client.force_login(viewer)
    response = client.get(reverse("staff_list"))
    assert response.status_code == 200
    return response.content.decode()


def row_of(html: str, email: str) -> str:
    return next(row for row in html.split("<tr>") if email in row)


def test_each_rows_controls_are_named_for_their_row(client):
    admin = StaffFactory(roles=[ADMINISTRATOR])
    sam = StaffFactory(first_name="Sam", last_name="Support", roles=[SUPPORT], passwordless=True)
    row = row_of(staff_page(client, admin), sam.email)
    assert f'<label class="visually-hidden" for="role-{sam.pk}">Role of Sam Support</label>' in row
    assert re.search(rf'<input type="checkbox" id="active-{sam.pk}" name="is_active"\s+checked>', row)
    assert (
        f'<label for="active-{sam.pk}" class="staff-active">Active<span class="visually-hidden">: Sam Support</span>'
        "</label>"
    ) in row
    assert '<button type="submit" class="button">Save<span class="visually-hidden"> Sam Support</span></button>' in row
    assert '<option value="Support" selected>Support</option>' in row


def test_the_signed_in_administrator_sees_their_own_role(client):
    admin = StaffFactory(first_name="Ada", last_name="Admin", roles=[ADMINISTRATOR])
    row = row_of(staff_page(client, admin), admin.email)
    assert '<strong>Administrator</strong> <span class="muted">(you)</span>' in row
    assert "No role" not in row
    assert "<form" not in row  # nobody changes their own role


def test_a_superuser_without_a_role_group_shows_as_administrator(client):
    root = User.objects.create_superuser("root@statstak.test", None, first_name="Root", is_staff=True)
    row = row_of(staff_page(client, root), root.email)
    assert '<strong>Administrator (superuser)</strong> <span class="muted">(you)</span>' in row


def test_permissions_given_one_by_one_show_the_role_they_add_up_to(client):
    admin = StaffFactory(roles=[ADMINISTRATOR])
    fay = StaffFactory(first_name="Fay", passwordless=True)
    fay.user_permissions.add(
        *[Permission.objects.get(content_type__app_label=app, codename=code) for app, code in ROLES[FINANCE]]
    )
    row = row_of(staff_page(client, admin), fay.email)
    assert '<option value="" selected>No role</option>' in row
    assert "Acts as Finance (by permissions)." in row


def test_saving_a_row_changes_that_member_only(client):
    admin = StaffFactory(roles=[ADMINISTRATOR])
    sam = StaffFactory(first_name="Sam", last_name="Support", roles=[SUPPORT], passwordless=True)
    other = StaffFactory(first_name="Olive", roles=[SUPPORT], passwordless=True)
    client.force_login(admin)
    response = client.post(reverse("staff_list"), {"member": sam.pk, "role": FINANCE})
    assert response.status_code == 200
    assert "Saved: Sam Support." in response.content.decode()
    sam.refresh_from_db()
    other.refresh_from_db()
    assert (sam.is_active, sam.groups.get().name) == (False, FINANCE)
    assert (other.is_active, other.groups.get().name) == (True, SUPPORT)
