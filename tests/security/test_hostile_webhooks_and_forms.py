"""Strings from outside that are stored: NUL and other control characters in webhook payloads and
form fields never answer 500 and never leave half a write.

PostgreSQL refuses NUL in text, so an unchecked NUL is a 500 (and, for a webhook, the same
delivery failing forever as the sender retries)."""

import json
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse
from twilio.request_validator import RequestValidator

from notifications.models import SmsMessage
from payments.models import GatewayEvent, LedgerEntry, Payment
from refunds.models import Refund
from tests.factories import CustomerFactory, RefundFactory, SmsMessageFactory, stripe_payment
from tests.fakes.stripe import WEBHOOK_SECRET, stripe_event, stripe_refund, stripe_signature
from tests.fakes.twilio import PUBLIC_BASE_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN

pytestmark = pytest.mark.django_db

NASTY = ["\x00", "re_\x00abc", "abc\x1b[31m", "\x7f\x9b", "x" * 5000 + "\x00"]


def deliver(event: dict):
    payload = json.dumps(event)
    return Client(enforce_csrf_checks=True).post(
        "/webhooks/stripe/",
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": stripe_signature(payload)},
    )


@pytest.fixture(autouse=True)
def secrets(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    settings.TWILIO_ACCOUNT_SID = TWILIO_ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = TWILIO_AUTH_TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC_BASE_URL


@pytest.mark.parametrize("nasty", NASTY)
@pytest.mark.parametrize("where", ["event id", "refund id", "reason", "failure_reason", "metadata"])
def test_a_stripe_event_with_control_characters_is_answered_and_writes_nothing_half(nasty, where):
    payment = stripe_payment()
    portal = RefundFactory(payment=payment, gateway_refund_id="re_3Known")
    refund = stripe_refund("re_3Known", payment, status="failed", amount=portal.amount)
    event = stripe_event("refund.updated", refund)
    if where == "event id":
        event["id"] = nasty
    elif where == "refund id":
        refund["id"] = nasty
    elif where == "metadata":
        refund["metadata"] = {"portal_refund_id": nasty}
    else:
        refund[where] = nasty

    response = deliver(event)

    assert response.status_code in (200, 400), response.status_code
    stored = [text for row in GatewayEvent.objects.values_list("event_id", "object_id", "outcome") for text in row]
    assert not any("\x00" in text for text in stored)
    portal.refresh_from_db()
    # Acted on whole (the refund failed, with a reason in words) or not at all (still pending).
    assert portal.status in ("pending", "failed")
    assert "\x00" not in portal.failure_reason and "\x1b" not in portal.failure_reason


@pytest.mark.parametrize("nasty", NASTY[:4])
def test_a_payment_event_with_control_characters_records_clean_text_or_nothing(nasty):
    customer = CustomerFactory()
    charge = {
        "id": "ch_3Nasty",
        "object": "charge",
        "amount": 1900,
        "amount_captured": 1900,
        "currency": "usd",
        "description": f"Pro pack {nasty}",
        "metadata": {"portal_user_id": str(customer.pk), "credits": "100"},
        "created": 1764000000,
    }
    response = deliver(stripe_event("charge.succeeded", charge))
    assert response.status_code in (200, 400)
    for payment in Payment.objects.all():
        assert "\x00" not in payment.description
        assert LedgerEntry.objects.filter(payment=payment).count() == 1


@pytest.mark.parametrize("field", ["MessageSid", "MessageStatus", "ErrorCode"])
def test_a_twilio_callback_with_a_nul_is_refused_and_changes_nothing(field):
    message = SmsMessageFactory(status="sent", provider="twilio", provider_message_id="SM" + "a" * 32, attempts=1)
    params = {"MessageSid": message.provider_message_id, "MessageStatus": "delivered", "ErrorCode": ""}
    params[field] = params[field] + "\x00"
    path = reverse("twilio_sms_status", args=[message.pk])
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + path, params)
    response = Client(enforce_csrf_checks=True).post(
        path, urlencode(params), content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )  # fmt: skip
    assert response.status_code == 400
    message.refresh_from_db()
    assert message.status == "sent"


def test_a_credits_note_with_a_nul_is_a_form_error_and_saves_nothing(client, credits_staff, customer):
    client.force_login(credits_staff)
    response = client.post(
        reverse("credits_edit", args=[customer.pk]),
        {"credits": "10", "expected_balance": "0", "note": "goodwill\x00"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert "Null characters are not allowed." in response.content.decode()
    assert not LedgerEntry.objects.exists()


def test_a_refund_note_with_a_nul_is_a_form_error_and_refunds_nothing(client):
    from accounts.roles import FINANCE
    from tests.factories import PaymentFactory, StaffFactory

    client.force_login(StaffFactory(roles=[FINANCE]))
    payment = PaymentFactory()
    data = {"type": "partial", "amount": "5.00", "reason": "other", "note": "because\x00",
            "idempotency_key": "k" * 32, "expected_reserved": "0"}  # fmt: skip
    response = client.post(reverse("refund_create", args=[payment.user_id, payment.pk]), data)
    assert response.status_code == 422
    assert "Null characters are not allowed." in response.content.decode()
    assert not Refund.objects.exists()
    assert not SmsMessage.objects.exists()
