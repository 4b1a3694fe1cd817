"""What the logs hold after the portal's money flows: no phone number, email, card number or secret.

Everything any logger writes, at DEBUG, is read from the very handler that settings.LOGGING puts
on the root logger (so its masking filter applies, as in production), together with what the
console SMS backend prints (a worker's output). The flows: a staff member logs in (and mistypes
the password once), searches for a customer by email, saves credits with a note naming the
customer's number and email, executes a refund on the sandbox gateway with an SMS, the queue
sends that SMS through the console backend, and Stripe's webhook reports a payment (its billing
details carry the email, phone and card) and a refund; forged webhook calls are refused. Twice:
with the plain format, and with LOG_FORMAT=json's (every line then a JSON object).
"""

import io
import json
import logging
import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.roles import FINANCE
from core.log_format import JsonLogFormatter
from core.log_masking import PhoneNumberMaskingFilter
from notifications.models import SmsMessage
from notifications.sending import sms_send
from payments.models import Payment
from refunds.models import Refund
from tests.factories import STAFF_PASSWORD, CustomerFactory, PaymentFactory
from tests.fakes.stripe import stripe_event, stripe_refund, stripe_signature
from tests.helpers import queue_clear
from tests.people import staff_with_role

PHONE = "+12025550143"
EMAIL = "elijah.herrick@example.com"
STAFF_EMAIL = "fran.finance@statstak.test"
CARD = "4242424242424242"
STRIPE_SECRET_KEY = "sk_test_51LogTestSecretKeyDoNotLog0123456789"
STRIPE_WEBHOOK_SECRET = "whsec_LogTestWebhookSecretDoNotLog0123"
TWILIO_AUTH_TOKEN = "twilio-log-test-auth-token-do-not-log"


def card_like_numbers(text: str) -> list[str]:
    """13 to 19 digits (spaces or dashes allowed between) that pass the Luhn check."""
    found = []
    for match in re.finditer(r"(?<!\w)(?<!\d\.)\d(?:[ -]?\d){12,18}(?!\w)(?!\.\d)", text):
        digits = [int(d) for d in re.sub(r"\D", "", match.group(0))]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(reversed(digits)))
        if total % 10 == 0:
            found.append(match.group(0))
    return found


@pytest.fixture(params=["plain", "json"])
def all_logs(request):
    """Every log record, DEBUG and up, as the configured root handler writes it (in each LOG_FORMAT)."""
    root = logging.getLogger()
    (handler,) = [h for h in root.handlers if any(isinstance(f, PhoneNumberMaskingFilter) for f in h.filters)]
    stream = io.StringIO()
    old_stream, old_root_level, old_handler_level = handler.setStream(stream), root.level, handler.level
    old_formatter = handler.formatter
    if request.param == "json":
        handler.setFormatter(JsonLogFormatter())
    root.setLevel(logging.DEBUG)
    handler.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        handler.setStream(old_stream)
        handler.setFormatter(old_formatter)
        root.setLevel(old_root_level)
        handler.setLevel(old_handler_level)
    if request.param == "json":  # and every line written was one JSON object
        for line in stream.getvalue().splitlines():
            assert isinstance(json.loads(line), dict), line


@pytest.fixture
def secrets_configured(settings):
    settings.STRIPE_SECRET_KEY = STRIPE_SECRET_KEY
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_WEBHOOK_SECRET
    settings.TWILIO_AUTH_TOKEN = TWILIO_AUTH_TOKEN
    settings.SMS_BACKEND = "console"
    settings.DEBUG = False


@pytest.mark.django_db(transaction=True)  # the refund service locks outside any transaction
def test_the_money_flows_leave_no_personal_data_or_secret_in_the_logs(all_logs, secrets_configured, capsys, settings):
    queue_clear()
    staff_with_role(FINANCE, email=STAFF_EMAIL, first_name="Fran", last_name="Finance")
    customer = CustomerFactory(first_name="Elijah", last_name="Herrick", email=EMAIL, phone=PHONE, credits=500)
    payment = PaymentFactory(user=customer)
    client = Client()
    all_logs.seek(0)
    all_logs.truncate(0)  # from here on: the flows only (factories log what they make at DEBUG)

    # Log in, after one mistyped password.
    client.post(reverse("login"), {"username": STAFF_EMAIL, "password": "not the password"})
    assert client.post(reverse("login"), {"username": STAFF_EMAIL, "password": STAFF_PASSWORD}).status_code == 302

    # Search by email; save credits with a note that names the customer's number and email.
    assert client.get(reverse("user_list"), {"q": EMAIL}).status_code == 200
    hx = {"HX-Request": "true"}
    saved = client.post(
        reverse("credits_edit", args=[customer.pk]),
        {"credits": "450", "expected_balance": "500", "note": f"Called {PHONE}, wrote to {EMAIL}, card {CARD}"},
        headers=hx | {"HX-Target": "payment-info"},
    )
    assert saved.status_code == 200

    # Execute a refund on the sandbox gateway, telling the customer by SMS.
    refund_form = {
        "type": "partial",
        "amount": "10.00",
        "reason": "other",
        "note": f"Customer {EMAIL} {PHONE} asked, card {CARD}",
        "credits_to_remove": "0",
        "notify_customer": "on",
        "idempotency_key": "0123456789abcdef0123456789abcdef",
        "expected_reserved": "0",
    }
    refunded = client.post(
        reverse("refund_create", args=[customer.pk, payment.pk]),
        refund_form,
        headers=hx | {"HX-Target": "refund-panel"},
    )
    assert "Success!" in refunded.content.decode()

    # The queue sends the SMS through the console backend (what the worker's job does).
    message = SmsMessage.objects.get(user=customer)
    sms_send(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == SmsMessage.Status.SENT

    # Stripe reports a payment made elsewhere and a refund; forged calls are refused.
    stripe = Client()
    charge = {
        "id": "ch_3LogTest000001",
        "object": "charge",
        "payment_intent": "pi_3LogTest000001",
        "amount": 5000,
        "amount_captured": 5000,
        "currency": "usd",
        "created": 1_790_000_000,
        "metadata": {"portal_user_id": str(customer.pk), "credits": "250"},
        "receipt_email": EMAIL,
        "billing_details": {"email": EMAIL, "phone": PHONE, "name": "Elijah Herrick"},
        "payment_method_details": {"card": {"brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2030}},
        "description": f"Pro pack for {EMAIL}",
    }

    def deliver(event: dict) -> int:
        payload = json.dumps(event)
        signature = stripe_signature(payload, secret=STRIPE_WEBHOOK_SECRET)
        return stripe.post(
            reverse("stripe_webhook"), payload, content_type="application/json", headers={"Stripe-Signature": signature}
        ).status_code

    assert deliver(stripe_event("charge.succeeded", charge)) == 200
    recorded = Payment.objects.get(gateway_id="pi_3LogTest000001")
    refund = stripe_refund("re_3LogTest000001", recorded, status="succeeded", amount=500, reason="duplicate")
    assert deliver(stripe_event("refund.created", refund)) == 200
    assert Refund.objects.filter(gateway_refund_id="re_3LogTest000001").exists()
    forged = json.dumps(stripe_event("charge.succeeded", charge))
    assert (
        stripe.post(
            reverse("stripe_webhook"),
            forged,
            content_type="application/json",
            headers={"Stripe-Signature": stripe_signature(forged, secret="whsec_forger")},
        ).status_code
        == 400
    )
    twilio_status = reverse("twilio_sms_status", args=[message.pk])
    assert (
        stripe.post(twilio_status, {"MessageSid": "SM1", "MessageStatus": "delivered", "To": PHONE}).status_code == 403
    )
    session_key = client.cookies["sessionid"].value
    client.post(reverse("logout"))

    logs = all_logs.getvalue() + capsys.readouterr().out

    # The capture saw the flows (else the checks below would pass on nothing).
    assert f"POST /users/{customer.pk}/credits/ 200" in logs
    assert f"POST /users/{customer.pk}/payments/{payment.pk}/refund/ 200" in logs
    assert "POST /webhooks/stripe/ 200" in logs
    assert "SMS to +1202•••0143" in logs
    assert "Stripe webhook refused" in logs
    # And none of these is in them.
    for secret in (
        PHONE,
        PHONE[2:],  # the national number
        EMAIL,
        STAFF_EMAIL,
        STAFF_PASSWORD,
        "not the password",
        STRIPE_SECRET_KEY,
        STRIPE_WEBHOOK_SECRET,
        TWILIO_AUTH_TOKEN,
        settings.SECRET_KEY,
        session_key,
        "q=",
    ):
        assert secret not in logs, f"{secret!r} is in the logs"
    assert card_like_numbers(logs) == []
    queue_clear()


def test_the_card_number_check_finds_card_numbers():
    assert card_like_numbers(f"paid with {CARD} today") == [CARD]
    assert card_like_numbers("card 4242 4242 4242 4242.") == ["4242 4242 4242 4242"]
    assert card_like_numbers("request_id=1234567890123 took 12.5ms") == []  # not a valid card number
