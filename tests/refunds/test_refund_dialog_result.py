"""The result answers the customer's next question: the refund's reference and gateway id, its
status and amount, when the money arrives, and the text message followed live while the dialog
is open; the dialog's title follows the state."""

import re
from datetime import date

import pytest
from django.urls import reverse

from notifications.models import SmsMessage
from refunds.models import Refund
from refunds.selectors_dialog import business_days_after, refund_arrival, sms_is_final
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HX-Request": "true", "HX-Target": "modal"}
PANEL = {"HX-Request": "true", "HX-Target": "refund-panel"}
SMS = {"HX-Request": "true", "HX-Target": "refund-sms"}


@pytest.fixture
def finance_client(client, finance):
    client.force_login(finance)
    return client


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace("&#x27;", "'").strip()


def execute(client, payment, **fields) -> str:
    url = reverse("refund_create", args=[payment.user_id, payment.pk])
    html = client.get(url, headers=HTMX).content.decode()
    data = {
        "amount": "25.00",
        "reason": "requested_by_customer",
        "note": "",
        "notify_customer": "on",
        "idempotency_key": html.split('name="idempotency_key" value="')[1].split('"')[0],
        "expected_reserved": html.split('name="expected_reserved" value="')[1].split('"')[0],
    } | fields
    response = client.post(url, data, headers=PANEL)
    assert response.status_code == 200
    return response.content.decode()


def sms_status(client, refund: Refund, poll: int = 0) -> str:
    url = reverse("refund_sms_status", args=[refund.payment.user_id, refund.payment_id, refund.pk])
    return client.get(url, {"poll": poll}, headers=SMS).content.decode()


def test_a_card_refund_shows_its_reference_gateway_id_status_amount_and_arrival(finance_client, make_payment):
    html = execute(finance_client, make_payment())
    refund = Refund.objects.get()
    words = text(html)
    assert '<h2 id="modal-title" hx-swap-oob="true">Refund sent</h2>' in html
    assert "Success!" in words
    assert f"Refund reference RF-{refund.pk:06d}" in words
    assert refund.gateway_refund_id.startswith("re_sandbox_")
    assert f"Gateway refund id {refund.gateway_refund_id}" in words
    assert "Status Succeeded" in words
    assert "Amount $25.00 to the card (Partial refund)" in words
    assert "When it arrives 5-10 business days to the card: between" in words
    assert "(Stripe's estimate; the customer's bank decides)" in words
    assert '<p role="status">' in html
    assert ">Continue</button>" in html


def test_the_text_message_is_followed_while_it_is_on_its_way(finance_client, make_payment):
    html = execute(finance_client, make_payment())
    refund = Refund.objects.get()
    message = SmsMessage.objects.get(about_id=refund.pk)
    poll_url = reverse("refund_sms_status", args=[refund.payment.user_id, refund.payment_id, refund.pk])
    assert 'aria-live="polite"' in html.split('id="refund-sms-live"')[1][:40]
    assert f'hx-get="{poll_url}?poll=1" hx-trigger="every 3s"' in html
    assert "Queued" in text(html)

    SmsMessage.objects.filter(pk=message.pk).update(status=SmsMessage.Status.SENT, provider="twilio")
    sent = sms_status(finance_client, refund, poll=1)
    assert "Sent" in text(sent) and "waiting for the delivery report" in text(sent)
    assert f'hx-get="{poll_url}?poll=2"' in sent

    SmsMessage.objects.filter(pk=message.pk).update(status=SmsMessage.Status.DELIVERED)
    delivered = sms_status(finance_client, refund, poll=2)
    assert "Delivered to the customer's phone" in text(delivered)
    assert "hx-get" not in delivered  # final: the dialog stops asking


def test_a_failed_text_message_says_why_and_stops_polling(finance_client, make_payment):
    execute(finance_client, make_payment())
    refund = Refund.objects.get()
    SmsMessage.objects.filter(about_id=refund.pk).update(
        status=SmsMessage.Status.FAILED, last_error="The number is not a mobile number"
    )
    html = sms_status(finance_client, refund)
    assert "Failed The number is not a mobile number" in text(html)
    assert "hx-get" not in html


def test_polling_stops_after_a_while_and_points_to_the_activity_tab(finance_client, make_payment):
    execute(finance_client, make_payment())
    html = sms_status(finance_client, Refund.objects.get(), poll=200)
    assert "hx-get" not in html
    assert "no longer checked here: see the Activity tab" in html


def test_the_console_backends_sent_is_final(finance_client, make_payment):
    assert sms_is_final(SmsMessage(status="sent", provider="console"))
    assert not sms_is_final(SmsMessage(status="sent", provider="twilio"))
    assert not sms_is_final(SmsMessage(status="queued"))


def test_no_text_chosen_says_so_and_does_not_poll(finance_client, make_payment):
    html = execute(finance_client, make_payment(), notify_customer="")
    assert "Not sent: you chose not to notify the customer." in text(html)
    assert "refund_sms" not in html and "/sms/" not in html


def test_the_sms_status_of_another_payments_refund_is_a_404(finance_client, make_payment):
    execute(finance_client, make_payment())
    refund = Refund.objects.get()
    other = make_payment(user=CustomerFactory())
    url = reverse("refund_sms_status", args=[other.user_id, other.pk, refund.pk])
    assert finance_client.get(url, headers=SMS).status_code == 404


def test_account_credits_are_titled_credits_added_and_arrive_now(finance_client, make_payment):
    html = execute(finance_client, make_payment(), type="credits", amount="20.00")
    words = text(html)
    assert '<h2 id="modal-title" hx-swap-oob="true">Credits added</h2>' in html
    assert "Gateway refund id None: no money moved at the gateway" in words
    assert "Amount $20.00 as 100 credits" in words
    assert "When it arrives Now: the credits are on the customer's account." in words


def test_a_pending_refund_is_titled_pending(finance_client, make_payment):
    html = execute(finance_client, make_payment(gateway_id="pi_sandbox_pending_result"))
    assert '<h2 id="modal-title" hx-swap-oob="true">Refund pending</h2>' in html
    assert "Status Pending" in text(html)


def test_a_declined_refund_is_titled_failed_with_no_arrival(finance_client, make_payment):
    html = execute(finance_client, make_payment(gateway_id="pi_sandbox_decline_result"))
    assert '<h2 id="modal-title" hx-swap-oob="true">Refund failed</h2>' in html
    assert "When it arrives" not in text(html)


def test_a_large_refund_is_titled_awaiting_approval(finance_client, make_payment):
    html = execute(finance_client, make_payment(amount=100000, credits_bought=5000), amount="600.00")
    assert '<h2 id="modal-title" hx-swap-oob="true">Refund awaiting approval</h2>' in html


def test_the_arrival_counts_business_days_only():
    # Friday Dec 4, 2026: five business days on is Friday Dec 11, ten is Friday Dec 18.
    assert business_days_after(date(2026, 12, 4), 5) == date(2026, 12, 11)
    assert business_days_after(date(2026, 12, 4), 10) == date(2026, 12, 18)
    refund = Refund(type=Refund.Type.PARTIAL, status=Refund.Status.SUCCEEDED)
    assert refund_arrival(refund, today=date(2026, 12, 4)) == (
        "5-10 business days to the card: between Dec 11 and Dec 18, 2026 "
        "(Stripe's estimate; the customer's bank decides)."
    )
