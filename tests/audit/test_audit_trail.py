"""The audit trail: one event per privileged action, with actor and before/after, and append-only."""

import csv
import io

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse

from accounts.audit import AccountAction
from accounts.roles import SUPPORT
from audit.actions import AuditAction
from audit.models import AuditEvent
from audit.services import audit_record
from notifications.audit import NotificationAction
from notifications.services import sms_status_record
from payments.audit import PaymentAction
from payments.models import Payment
from payments.services import CreditsRefused, credits_adjust, payment_record_from_gateway
from tests.factories import STAFF_PASSWORD, AuditEventFactory, CustomerFactory, SmsMessageFactory, StaffFactory

pytestmark = pytest.mark.django_db


def test_a_credits_change_writes_exactly_one_event_with_before_and_after(customer, staff):
    credits_adjust(user=customer, new_balance=40, expected_balance=0, actor=staff, note="Goodwill")
    [event] = AuditEvent.objects.all()
    assert (event.action, event.actor, event.actor_label, event.target_user) == (
        PaymentAction.CREDITS_ADJUSTED,
        staff,
        "Adam Hobson",
        customer,
    )
    assert (event.before, event.after) == ({"credits": 0}, {"credits": 40, "note": "Goodwill"})


def test_a_refused_change_writes_no_event(customer, staff):
    with pytest.raises(CreditsRefused):
        credits_adjust(user=customer, new_balance=10_000, expected_balance=0, actor=staff)  # over Support's limit
    assert not AuditEvent.objects.exists()


def test_the_request_records_address_agent_and_correlation_id(client, customer):
    support = StaffFactory(roles=[SUPPORT])
    client.force_login(support)
    response = client.post(
        reverse("credits_edit", args=[customer.pk]),
        {"credits": "5", "expected_balance": "0"},
        headers={"User-Agent": "AuditTest/1.0", "X-Request-ID": "req-1234567890"},
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=PaymentAction.CREDITS_ADJUSTED)
    assert (event.ip_address, event.user_agent, event.correlation_id) == (
        "203.0.113.9",
        "AuditTest/1.0",
        "req-1234567890",
    )


def test_logins_failures_and_logouts_are_recorded(client):
    staff = StaffFactory(email="ann@statstak.test")
    client.post(reverse("login"), {"username": "ann@statstak.test", "password": "wrong"})
    client.post(reverse("login"), {"username": "ann@statstak.test", "password": STAFF_PASSWORD})
    client.post(reverse("logout"))
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "actor"))
    assert actions == [
        (AccountAction.LOGIN_FAILED, None),
        (AccountAction.LOGIN_SUCCEEDED, staff.pk),
        (AccountAction.LOGOUT, staff.pk),
    ]
    assert "wrong" not in str(AuditEvent.objects.get(action=AccountAction.LOGIN_FAILED).after)


@pytest.mark.parametrize("sql", ["UPDATE audit_auditevent SET action = 'logout'", "DELETE FROM audit_auditevent"])
def test_raw_sql_cannot_alter_or_delete_audit_events(sql):
    audit_record(action=AccountAction.LOGIN_FAILED, actor_label="Unknown")
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    assert AuditEvent.objects.get().action == AccountAction.LOGIN_FAILED


def test_the_audit_log_filters_by_staff_customer_action_and_date(admin_client, customer, staff):
    other = CustomerFactory(email="other@example.com")
    credits_adjust(user=customer, new_balance=10, expected_balance=0, actor=staff)
    credits_adjust(user=other, new_balance=20, expected_balance=0, actor=staff)
    page = admin_client.get(reverse("audit_log"), {"customer": "ELIJAH.herrick@example.com"}).content.decode()
    assert "Elijah Herrick" in page and "other@example.com" not in page
    page = admin_client.get(reverse("audit_log"), {"action": "credits_adjusted", "staff": staff.pk}).content.decode()
    assert page.count("<td>Credits changed</td>") == 2
    page = admin_client.get(reverse("audit_log"), {"since": "2001-01-01", "until": "2001-01-02"}).content.decode()
    assert "No events match these filters." in page
    bad = admin_client.get(reverse("audit_log"), {"customer": "nobody@example.com"})
    assert bad.status_code == 422 and "No user has that email address." in bad.content.decode()


def test_the_audit_log_pages_by_keyset(admin_client, customer, staff):
    AuditEventFactory.create_batch(55, actor=staff, target_user=customer, action=PaymentAction.CREDITS_ADJUSTED)
    first = admin_client.get(reverse("audit_log"), {"action": "credits_adjusted"}).content.decode()
    assert first.count("<td>Credits changed</td>") == 50
    assert "Older events" in first
    before = AuditEvent.objects.order_by("-id").values_list("id", flat=True)[49]
    second = admin_client.get(reverse("audit_log"), {"action": "credits_adjusted", "before": before}).content.decode()
    assert second.count("<td>Credits changed</td>") == 5


def test_the_csv_export_streams_the_filtered_events_and_is_itself_recorded(admin_client, customer, staff):
    credits_adjust(user=customer, new_balance=10, expected_balance=0, actor=staff)
    response = admin_client.get(reverse("audit_export"), {"action": "credits_adjusted"})
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:5] == ["id", "time", "actor", "actor_id", "action"]
    assert len(rows) == 2 and rows[1][4] == "credits_adjusted" and rows[1][2] == "Adam Hobson"
    export = AuditEvent.objects.get(action=AuditAction.EXPORTED)
    assert export.actor == admin_client.admin and export.after["action"] == "credits_adjusted"


def test_the_audit_log_and_export_are_for_administrators(client, staff):
    client.force_login(staff)
    assert client.get(reverse("audit_log")).status_code == 403
    assert client.get(reverse("audit_export")).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORTED).exists()


def test_the_activity_tab_shows_events_about_the_user(staff_client, customer, staff):
    credits_adjust(user=customer, new_balance=10, expected_balance=0, actor=staff)
    page = staff_client.get(reverse("user_activity", args=[customer.pk])).content.decode()
    assert "Audit trail" in page and "Credits changed" in page


def test_webhook_driven_changes_are_recorded_with_the_system_as_actor(customer):
    for _delivery in ("first", "replay"):  # a replay records nothing more
        payment_record_from_gateway(
            user_id=customer.pk,
            gateway=Payment.Gateway.STRIPE,
            gateway_id="pi_webhook_1",
            amount=1900,
            currency="usd",
            credits_bought=100,
        )
    message = SmsMessageFactory(user=customer, status="sent", provider="twilio", provider_message_id="SM1")
    sms_status_record(message_id=message.pk, provider_message_id="SM1", provider_status="delivered")
    sms_status_record(message_id=message.pk, provider_message_id="SM1", provider_status="sent")  # backwards: nothing
    events = list(AuditEvent.objects.order_by("id").values_list("action", "actor", "actor_label", "target_user"))
    assert events == [
        (PaymentAction.PAYMENT_RECORDED, None, "Stripe", customer.pk),
        (NotificationAction.SMS_STATUS, None, "Twilio", customer.pk),
    ]


def test_administrators_change_roles_and_access_with_an_audit_event(admin_client):
    member = StaffFactory(email="sam@statstak.test", roles=[SUPPORT])
    response = admin_client.post(reverse("staff_list"), {"member": member.pk, "role": "Finance", "is_active": "on"})
    assert response.status_code == 200
    member.refresh_from_db()
    assert member.has_perm("refunds.execute_refund")
    event = AuditEvent.objects.get(action=AccountAction.STAFF_CHANGED)
    assert (event.actor, event.target_user) == (admin_client.admin, member)
    assert (event.before, event.after) == ({"role": "Support", "active": True}, {"role": "Finance", "active": True})
    admin_client.post(reverse("staff_list"), {"member": member.pk, "role": "Finance"})
    member.refresh_from_db()
    assert not member.is_active


def test_nobody_changes_their_own_role_and_support_cannot_manage_staff(admin_client, client):
    own = admin_client.post(reverse("staff_list"), {"member": admin_client.admin.pk, "role": "", "is_active": "on"})
    assert own.status_code == 422 and "cannot change your own role" in own.content.decode()
    support = StaffFactory(roles=[SUPPORT])
    client.force_login(support)
    assert client.post(reverse("staff_list"), {"member": support.pk, "role": "Administrator"}).status_code == 403
    assert not AuditEvent.objects.filter(action=AccountAction.STAFF_CHANGED).exists()


def test_an_out_of_range_date_is_a_form_error_not_a_crash(admin_client):
    for params in ({"until": "9999-12-31"}, {"since": "0001-01-01"}):
        assert admin_client.get(reverse("audit_log"), params).status_code == 422
        assert admin_client.get(reverse("audit_export"), params).status_code == 400
