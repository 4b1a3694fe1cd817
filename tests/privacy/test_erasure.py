"""Erasure of a customer's personal data: placeholders for what identifies them, the money kept."""

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import CustomerNote, User
from accounts.roles import ADMINISTRATOR, FINANCE, SUPPORT
from accounts.selectors_search import user_search
from audit.models import AuditEvent
from audit.services import audit_record
from notifications.models import SmsMessage
from payments.models import Dispute, LedgerEntry, Payment
from payments.services import credits_adjust
from privacy.audit import PrivacyAction
from privacy.services import ERASED, ErasureRefused, customer_erase
from refunds.models import Refund
from tests.factories import CustomerFactory, RefundFactory, SmsMessageFactory, stripe_payment
from tests.people import staff_with_role

pytestmark = pytest.mark.django_db

EMAIL = "elijah.herrick@example.com"
PHONE = "+12025550143"


@pytest.fixture
def admin():
    return staff_with_role(ADMINISTRATOR, first_name="Ada", last_name="Admin")


@pytest.fixture
def history(admin):
    """Elijah with a payment, a credits change whose note names him, a rejected refund with a
    note, a text message, a staff note, and a failed login that typed his email."""
    customer = CustomerFactory(first_name="Elijah", last_name="Herrick", email=EMAIL, phone=PHONE)
    payment = stripe_payment(customer=customer, amount=10000, credits=500)
    credits_adjust(
        user=customer, new_balance=450, expected_balance=500, actor=admin, note=f"Called Elijah on {PHONE}, {EMAIL}"
    )
    RefundFactory(payment=payment, status=Refund.Status.REJECTED, reason=Refund.Reason.OTHER, note=f"Asked by {EMAIL}")
    SmsMessageFactory(user=customer, body="Hi Elijah, your refund is on its way.")
    CustomerNote.objects.create(user=customer, author=admin, text=f"Elijah Herrick prefers {EMAIL}")
    audit_record(action="login_failed", actor_label="Unknown", after={"username": EMAIL})
    return customer


def test_it_replaces_the_personal_data_and_keeps_the_money(admin, history, capsys):
    ledger_before = list(LedgerEntry.objects.filter(user=history).values_list("id", "credits_delta", "balance_after"))
    payments_before = list(Payment.objects.filter(user=history).values_list("id", "amount", "amount_refunded"))

    result = customer_erase(customer=history, actor=admin, confirm_email="Elijah.Herrick@example.com ")

    person = User.objects.get(pk=history.pk)
    assert (person.first_name, person.last_name, str(person.phone)) == ("Erased", "customer", "")
    assert person.email == f"erased-{person.pk}@erased.invalid"
    assert person.credits == 450  # the balance is the ledger's
    assert list(CustomerNote.objects.filter(user=person).values_list("text", flat=True)) == [ERASED]
    assert list(SmsMessage.objects.filter(user=person).values_list("body", "to")) == [("", "")]
    assert Refund.objects.get(payment__user=person).note == ERASED
    assert list(LedgerEntry.objects.filter(user=person).values_list("id", "credits_delta", "balance_after")) == (
        ledger_before
    )
    assert list(Payment.objects.filter(user=person).values_list("id", "amount", "amount_refunded")) == payments_before
    assert result.notes == 1 and result.messages == 1

    call_command("verify_ledger")
    assert "every rule holds" in capsys.readouterr().out


def test_no_audit_event_keeps_the_erased_data_but_each_keeps_its_amounts(admin, history):
    credits_event = AuditEvent.objects.get(target_user=history, action="credits_adjusted")
    kept = {key: value for key, value in credits_event.after.items() if isinstance(value, int)}

    customer_erase(customer=history, actor=admin, confirm_email=EMAIL)

    for event in AuditEvent.objects.all():
        text = f"{event.before} {event.after} {event.user_agent}".lower()
        for personal in (EMAIL, PHONE, "2025550143", "elijah", "herrick"):
            assert personal not in text, (event.action, text)
    credits_event.refresh_from_db()
    assert {key: value for key, value in credits_event.after.items() if isinstance(value, int)} == kept
    assert kept  # amounts there were
    erased = AuditEvent.objects.get(action=PrivacyAction.CUSTOMER_ERASED)
    assert (erased.actor, erased.target_user_id) == (admin, history.pk)
    assert erased.after["notes"] == 1


@pytest.mark.parametrize("query", ["elijah", "herrick", "elijah herrick", EMAIL, PHONE, "(202) 555 0143", "#0143"])
def test_the_search_never_finds_the_erased_person(admin, history, query):
    assert history.pk in [user.pk for user in user_search(query=query).users]

    customer_erase(customer=history, actor=admin, confirm_email=EMAIL)

    assert history.pk not in [user.pk for user in user_search(query=query).users]


@pytest.mark.parametrize(
    "status", [Refund.Status.PENDING, Refund.Status.AWAITING_APPROVAL, Refund.Status.REQUIRES_ACTION]
)
def test_it_is_refused_while_a_refund_is_in_flight(admin, history, status):
    RefundFactory(payment=Payment.objects.get(user=history), status=status, amount=100)

    with pytest.raises(ErasureRefused, match="refund is pending or awaiting approval"):
        customer_erase(customer=history, actor=admin, confirm_email=EMAIL)

    assert User.objects.get(pk=history.pk).email == EMAIL


def test_it_is_refused_while_a_dispute_is_open_and_allowed_once_it_is_closed(admin, history):
    payment = Payment.objects.get(user=history)
    dispute = Dispute.objects.create(
        payment=payment,
        gateway_dispute_id="du_3Erasure",
        amount=payment.amount,
        currency=payment.currency,
        reason="fraudulent",
        status=Dispute.Status.NEEDS_RESPONSE,
        reported_at=timezone.now(),
    )
    with pytest.raises(ErasureRefused, match="dispute is open"):
        customer_erase(customer=history, actor=admin, confirm_email=EMAIL)

    Dispute.objects.filter(pk=dispute.pk).update(status=Dispute.Status.WON)
    customer_erase(customer=history, actor=admin, confirm_email=EMAIL)
    assert User.objects.get(pk=history.pk).email != EMAIL


@pytest.mark.parametrize("typed", ["", "someone@example.com", "elijah.herrick@example"])
def test_it_is_refused_without_the_email_typed_to_confirm(admin, history, typed):
    with pytest.raises(ErasureRefused, match="Type the customer's email"):
        customer_erase(customer=history, actor=admin, confirm_email=typed)
    assert User.objects.get(pk=history.pk).first_name == "Elijah"
    assert not AuditEvent.objects.filter(action=PrivacyAction.CUSTOMER_ERASED).exists()


def test_staff_accounts_and_erased_customers_are_refused(admin, history):
    with pytest.raises(ErasureRefused, match="staff account"):
        customer_erase(customer=admin, actor=admin, confirm_email=admin.email)
    customer_erase(customer=history, actor=admin, confirm_email=EMAIL)
    erased = User.objects.get(pk=history.pk)
    with pytest.raises(ErasureRefused, match="already been erased"):
        customer_erase(customer=erased, actor=admin, confirm_email=erased.email)


@pytest.mark.parametrize("role", [SUPPORT, FINANCE])
def test_only_administrators_may_erase(history, role):
    with pytest.raises(PermissionDenied):
        customer_erase(customer=history, actor=staff_with_role(role), confirm_email=EMAIL)


def test_outside_an_erasure_the_audit_trail_stays_append_only(history):
    event = AuditEvent.objects.filter(target_user=history).first()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE audit_auditevent SET after = '{}' WHERE id = %s", [event.pk])
    # Even inside one, nothing but the data may change (here: the action).
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statstak.erasing_user', %s, true)", [str(history.pk)])
        cursor.execute("UPDATE audit_auditevent SET action = 'x' WHERE id = %s", [event.pk])
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statstak.erasing_user', %s, true)", [str(history.pk)])
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])


# --- the page ---------------------------------------------------------------------------------


def test_the_page_asks_for_the_email_then_erases(client, admin, history):
    client.force_login(admin)
    url = reverse("customer_erase", args=[history.pk])
    assert "Erase personal data…" in client.get(reverse("user_detail", args=[history.pk])).content.decode()
    page = client.get(url).content.decode()
    assert "type the customer's email address" in page and EMAIL in page

    wrong = client.post(url, {"confirm_email": "nope@example.com"})
    assert wrong.status_code == 422 and "Nothing was erased" in wrong.content.decode()

    done = client.post(url, {"confirm_email": EMAIL}, follow=True)
    html = done.content.decode()
    assert "Personal data erased." in html and "Erased customer" in html and EMAIL not in html


def test_the_page_says_why_it_cannot_be_done_now(client, admin, history):
    RefundFactory(payment=Payment.objects.get(user=history), status=Refund.Status.PENDING, amount=100)
    client.force_login(admin)

    html = client.get(reverse("customer_erase", args=[history.pk])).content.decode()

    assert "It cannot be done now" in html and "refund is pending" in html
    assert 'name="confirm_email"' not in html


def test_the_button_is_only_for_administrators(client, history):
    client.force_login(staff_with_role(FINANCE))
    assert "Erase personal data" not in client.get(reverse("user_detail", args=[history.pk])).content.decode()
    assert client.get(reverse("customer_erase", args=[history.pk])).status_code == 403
