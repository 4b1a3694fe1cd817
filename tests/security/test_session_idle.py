"""A staff session left alone for SESSION_IDLE_SECONDS ends; the login page says why."""

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.login_protection import SESSION_LAST_SEEN, SESSION_STARTED
from accounts.models import User
from accounts.roles import SUPPORT
from tests.people import staff_with_role

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(staff_with_role(SUPPORT))
    return client


def age_session(client, *, idle: int = 0, age: int = 0) -> None:
    session = client.session
    now = int(time.time())
    session[SESSION_LAST_SEEN] = now - idle
    session[SESSION_STARTED] = now - age
    session.save()


def test_right_after_login_a_request_writes_nothing_to_the_session(staff_client):
    staff_client.get(reverse("user_list"))
    assert SESSION_LAST_SEEN not in staff_client.session  # the login time stands in for it


def test_a_session_idle_since_its_login_is_logged_out(staff_client, settings):
    User.objects.filter(pk=staff_client.session["_auth_user_id"]).update(
        last_login=timezone.now() - timedelta(seconds=settings.SESSION_IDLE_SECONDS + 1)
    )
    assert staff_client.get(reverse("user_list")).status_code == 302


def test_a_session_used_within_the_idle_time_goes_on(staff_client, settings):
    age_session(staff_client, idle=settings.SESSION_IDLE_SECONDS - 60)

    assert staff_client.get(reverse("user_list")).status_code == 200
    assert abs(staff_client.session[SESSION_LAST_SEEN] - time.time()) < 5  # and counts as activity


def test_an_idle_session_is_logged_out_with_a_message_on_the_login_page(staff_client, settings):
    settings.SESSION_IDLE_SECONDS = 30 * 60
    age_session(staff_client, idle=30 * 60 + 1)

    response = staff_client.get(reverse("user_list"))

    assert response.status_code == 302
    assert response.url == reverse("login") + "?next=/users/"
    assert "_auth_user_id" not in staff_client.session
    login_page = staff_client.get(response.url).content.decode()
    assert "You were logged out after 30 minutes without activity. Log in again to continue." in login_page


def test_an_idle_session_cannot_write_either(staff_client):
    from tests.factories import CustomerFactory

    customer = CustomerFactory()
    age_session(staff_client, idle=31 * 60)

    response = staff_client.post(reverse("credits_edit", args=[customer.pk]), {"credits": "5", "expected_balance": "0"})

    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.credits == 0


def test_the_idle_time_is_a_setting(staff_client, settings):
    settings.SESSION_IDLE_SECONDS = 120
    age_session(staff_client, idle=121)

    assert staff_client.get(reverse("user_list")).status_code == 302


def test_a_busy_session_still_ends_after_the_session_cookie_age(staff_client, settings):
    age_session(staff_client, idle=10, age=settings.SESSION_COOKIE_AGE + 1)

    response = staff_client.get(reverse("user_list"))

    assert response.status_code == 302
    assert "Your session ended after 8 hours" in staff_client.get(response.url).content.decode()


def test_the_time_is_written_at_most_once_a_minute(staff_client):
    age_session(staff_client, idle=20)
    before = staff_client.session[SESSION_LAST_SEEN]

    staff_client.get(reverse("user_list"))

    assert staff_client.session[SESSION_LAST_SEEN] == before
