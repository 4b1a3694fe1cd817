"""Profile → Activity → Notifications: the text messages sent to a user."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import dateformat, timezone

from notifications.models import SmsMessage
from tests.factories import CustomerFactory, SmsMessageFactory

pytestmark = pytest.mark.django_db

Status = SmsMessage.Status


def activity(client, user) -> str:
    response = client.get(reverse("user_activity", args=[user.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_it_lists_the_users_messages_newest_first_with_time_status_and_text(staff_client, customer):
    now = timezone.now()
    SmsMessageFactory(
        user=customer, body="First: refund requested.", status=Status.DELIVERED, created_at=now - timedelta(days=2)
    )
    SmsMessageFactory(
        user=customer, body="Second: refund sent.", status=Status.SENT, created_at=now - timedelta(days=1)
    )
    SmsMessageFactory(user=customer, body="Third: just queued.", status=Status.QUEUED, created_at=now)
    html = activity(staff_client, customer)

    assert ">Notifications</h2>" in html
    bodies = re.findall(r'<td class="sms-body">(.*?)</td>', html)
    assert bodies == ["Third: just queued.", "Second: refund sent.", "First: refund requested."]
    for status in ["Queued", "Sent", "Delivered"]:
        assert f">{status}</span>" in html
    assert f'<time datetime="{dateformat.format(now, "c")}">{dateformat.format(now, "M j, Y H:i T")}</time>' in html
    assert "+1 202-555-0143" in html


def test_a_failed_message_shows_why(staff_client, customer):
    SmsMessageFactory(user=customer, to="", status=Status.FAILED, last_error="No phone number")
    SmsMessageFactory(
        user=customer,
        status=Status.UNDELIVERED,
        last_error="Twilio error 30003: Unreachable destination handset",
    )
    html = activity(staff_client, customer)
    assert '<span class="status status-failed">Failed</span>' in html
    assert '<p class="sms-error">No phone number</p>' in html
    assert "Twilio error 30003: Unreachable destination handset" in html


def test_a_message_waiting_for_a_retry_says_what_went_wrong(staff_client, customer):
    SmsMessageFactory(user=customer, status=Status.QUEUED, attempts=1, last_error="Twilio did not answer in time.")
    html = activity(staff_client, customer)
    assert "Will retry: Twilio did not answer in time." in html


def test_an_unconfirmed_message_says_it_is_looked_up_before_any_resend(staff_client, customer):
    SmsMessageFactory(
        user=customer, status=Status.UNCONFIRMED, attempts=1, reference="K7QX2M", last_error="Twilio did not answer."
    )
    html = activity(staff_client, customer)
    assert '<span class="status status-unconfirmed">Unconfirmed</span>' in html
    assert "Twilio may have it: looked up there before any resend. Twilio did not answer." in html
    assert "Ref K7QX2M" in html


def test_a_message_twilio_holds_twice_is_flagged_as_told_twice(staff_client, customer):
    SmsMessageFactory(user=customer, body="Sent once.", status=Status.SENT, provider_message_id="SM" + "a" * 32)
    html = activity(staff_client, customer)
    assert "Told twice" not in html  # else the check below would pass on nothing
    SmsMessageFactory(
        user=customer,
        body="Sent twice.",
        status=Status.DELIVERED,
        provider_message_id="SM" + "b" * 32,
        provider_duplicate_ids=["SM" + "c" * 32],
    )
    html = activity(staff_client, customer)
    assert html.count("Told twice") == 1
    assert "Told twice: Twilio holds 2 texts of this message." in html


def test_it_shows_only_this_users_messages(staff_client, customer):
    SmsMessageFactory(user=customer, body="For Elijah.")
    SmsMessageFactory(user=CustomerFactory(), body="For someone else.")
    html = activity(staff_client, customer)
    assert "For Elijah." in html
    assert "For someone else." not in html


def test_a_user_without_messages_says_so(staff_client, customer):
    html = activity(staff_client, customer)
    assert "No text messages sent to this user yet." in html


def test_it_shows_the_latest_messages_only(staff_client, customer, settings):
    settings.SMS_MESSAGES_SHOWN = 3
    now = timezone.now()
    for minutes in range(5):
        SmsMessageFactory(
            user=customer, body=f"Message {minutes} minutes old", created_at=now - timedelta(minutes=minutes)
        )
    # The Notifications section (the timeline above it shows every message, paged on its own).
    html = activity(staff_client, customer).split('id="notifications-title"')[1]
    assert html.count('<td class="sms-body">') == 3
    assert "Message 0 minutes old" in html
    assert "Message 3 minutes old" not in html
    assert "Showing the 3 most recent messages." in html


def test_message_text_is_escaped(staff_client, customer):
    SmsMessageFactory(user=customer, body="<script>alert(1)</script>")
    html = activity(staff_client, customer)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_the_tab_runs_a_fixed_number_of_queries(staff_client, customer):
    SmsMessageFactory(user=customer)
    activity(staff_client, customer)  # warm per-process caches (content types), emptied by other tests
    with CaptureQueriesContext(connection) as one:
        activity(staff_client, customer)
    for _ in range(30):
        SmsMessageFactory(user=customer)
    with CaptureQueriesContext(connection) as many:
        activity(staff_client, customer)
    assert len(many.captured_queries) == len(one.captured_queries)


def test_other_tabs_do_not_load_messages(staff_client, customer):
    SmsMessageFactory(user=customer, body="Only on Activity.")
    html = staff_client.get(reverse("user_payments", args=[customer.pk])).content.decode()
    assert "Only on Activity." not in html
    assert "Notifications" not in html


def test_an_htmx_switch_to_activity_includes_the_messages(staff_client, customer):
    SmsMessageFactory(user=customer, body="Swapped in.")
    response = staff_client.get(
        reverse("user_activity", args=[customer.pk]), headers={"HX-Request": "true", "HX-Target": "profile-tabs"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="profile-tabs">')
    assert "Swapped in." in html
