"""Refunds in currencies whose decimals at Stripe are not CLDR's: HUF (two at Stripe, none in CLDR),
ISK (two, always 00), KWD (three, the last 0), JPY (none). What staff type is read by Stripe's
exponent, sent to Stripe as it counts, shown back as staff would say it, and what Stripe would
refuse is a form error in words, before anything is reserved or sent (core/currencies.py)."""

import pytest
from django.urls import reverse

from notifications.models import SmsMessage
from payments.gateway import GatewayDeclined, StripeGateway, gateway_for
from payments.models import LedgerEntry, Payment
from refunds.models import Refund
from refunds.services.request import RefundRefused
from tests.factories import stripe_payment
from tests.helpers import assert_books_balance, refund_request

HTMX = {"HX-Request": "true", "HX-Target": "modal"}
PANEL = {"HX-Request": "true", "HX-Target": "refund-panel"}
NBSP = "\u00a0"

# Committed data: a refund asks the gateway outside any transaction.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def finance_client(client, finance):
    client.force_login(finance)
    return client


def _url(payment: Payment) -> str:
    return reverse("refund_create", args=[payment.user_id, payment.pk])


def _form(client, payment: Payment, **overrides) -> dict:
    """What the refund dialog submits, from the values its GET put in the form."""
    html = client.get(_url(payment), headers=HTMX).content.decode()
    key = html.split('name="idempotency_key" value="')[1].split('"')[0]
    reserved = html.split('name="expected_reserved" value="')[1].split('"')[0]
    data = {
        "type": "partial",
        "reason": "requested_by_customer",
        "note": "",
        "credits_to_remove": "0",
        "idempotency_key": key,
        "expected_reserved": reserved,
    }
    return data | overrides


def test_a_250_ft_partial_refund_of_a_1000_ft_payment_sends_25000_and_shows_forints(finance_client, stripe_api):
    payment = stripe_payment(amount=100000, credits=1000, currency="HUF")  # 1,000.00 Ft at Stripe

    dialog = finance_client.get(_url(payment), headers=HTMX).content.decode()
    assert f"HUF{NBSP}1,000" in dialog
    assert 'data-exponent="2"' in dialog  # the page's script counts fillér as Stripe does
    response = finance_client.post(_url(payment), _form(finance_client, payment, amount="250"), headers=PANEL)

    assert response.status_code == 200
    assert f"HUF{NBSP}250 was refunded" in response.content.decode()
    (request,) = stripe_api.creates()  # through the real Stripe SDK
    assert request.form["amount"] == "25000"
    assert request.form["payment_intent"] == payment.gateway_id
    refund = Refund.objects.get()
    assert (refund.amount, refund.currency, refund.status) == (25000, "HUF", Refund.Status.SUCCEEDED)
    payment.refresh_from_db()
    assert (payment.amount_refunded, payment.status) == (25000, Payment.Status.PARTIALLY_REFUNDED)
    assert LedgerEntry.objects.get(refund_id=refund.pk).money_delta == -25000
    tab = finance_client.get(reverse("user_payments", args=[payment.user_id])).content.decode()
    assert f"HUF{NBSP}1,000</td>" in tab  # the payment
    assert f"HUF{NBSP}250</td>" in tab  # refunded of it
    summary = finance_client.get(_url(payment), headers=HTMX).content.decode()
    assert f"<dd>HUF{NBSP}750</dd>" in summary  # what remains
    assert 'value="750"' in summary  # the amount field offers what remains, as staff would type it
    assert f"Up to HUF{NBSP}750 remains." in summary
    assert_books_balance()


def test_a_three_decimal_refund_is_sent_with_its_last_digit_0(stripe_api, refunder):
    payment = stripe_payment(amount=10000, credits=100, currency="KWD")  # 10.000 KWD

    refund = refund_request(payment, actor=refunder, amount=5120)

    assert refund.status == Refund.Status.SUCCEEDED
    (request,) = stripe_api.creates()
    assert request.form["amount"] == "5120"


def test_the_gateway_refuses_an_amount_stripe_would_refuse_without_sending_it(stripe_api):
    gateway = gateway_for("stripe")
    assert isinstance(gateway, StripeGateway)
    ask = {
        "payment_gateway_id": "pi_3Portal000901",
        "reason": "requested_by_customer",
        "portal_refund_id": 1,
        "portal_staff_id": 1,
    }

    with pytest.raises(GatewayDeclined, match=r"whole ISK amounts only, no fractions: use 40 or 41 ISK instead of 40"):
        gateway.refund(amount=4010, currency="ISK", idempotency_key="isk-fraction", **ask)
    with pytest.raises(GatewayDeclined, match=r"KWD amounts to 2 decimals only"):
        gateway.refund(amount=5124, currency="KWD", idempotency_key="kwd-third-decimal", **ask)
    assert stripe_api.creates() == []

    # Else the refusals above could be refusals of everything.
    gateway.refund(amount=4000, currency="ISK", idempotency_key="isk-whole", **ask)
    assert [r.form["amount"] for r in stripe_api.creates()] == ["4000"]


def test_a_full_refund_of_an_old_fractional_isk_payment_is_refused_in_words(stripe_api, refunder):
    payment = stripe_payment(amount=4010, credits=40, currency="ISK")  # 40.10 ISK, from before April 2023

    with pytest.raises(RefundRefused, match=r"use 40 or 41 ISK instead of 40\.10") as refused:
        refund_request(payment, actor=refunder, amount=None, type=Refund.Type.FULL)

    assert refused.value.field == "amount"
    assert not Refund.objects.exists()
    assert stripe_api.creates() == []
    # Stripe's advice: refund the amount rounded down to a whole króna.
    assert refund_request(payment, actor=refunder, amount=4000).status == Refund.Status.SUCCEEDED


@pytest.mark.parametrize(
    ("currency", "amount", "typed", "error"),
    [
        ("JPY", 2900, "5.5", "JPY amounts have no decimals."),
        ("ISK", 100000, "12.50", "whole ISK amounts only, no fractions: use 12 or 13 ISK instead of 12.50."),
        ("UGX", 100000, "7.25", "Stripe takes whole UGX amounts only, no fractions: use 7 or 8 UGX instead of 7.25."),
        (
            "KWD",
            100000,
            "5.124",
            "Stripe takes KWD amounts to 2 decimals only (the third must be 0): use 5.12 or 5.13 KWD instead of 5.124.",
        ),
        ("HUF", 100000, "250.505", "Use at most 2 decimals."),
    ],
)
def test_the_dialog_refuses_an_amount_the_currency_cannot_take_in_words(
    finance_client, make_payment, currency, amount, typed, error
):
    payment = make_payment(amount=amount, currency=currency, credits_bought=100)

    response = finance_client.post(_url(payment), _form(finance_client, payment, amount=typed), headers=PANEL)

    assert response.status_code == 422
    assert error in response.content.decode()
    assert not Refund.objects.exists()


@pytest.mark.parametrize(
    ("currency", "amount", "typed", "shown", "stored"),
    [
        ("HUF", 100000, "250.50", f"HUF{NBSP}250.50", 25050),  # fillér: Stripe takes them in refunds
        ("ISK", 100000, "12", f"ISK{NBSP}12", 1200),
        ("KWD", 100000, "5.12", f"KWD{NBSP}5.120", 5120),
        ("JPY", 2900, "500", "¥500", 500),
    ],
)
def test_the_dialog_takes_what_the_currency_can_take(
    finance_client, make_payment, currency, amount, typed, shown, stored
):
    # The positive control of the refusals above.
    payment = make_payment(amount=amount, currency=currency, credits_bought=100)

    response = finance_client.post(_url(payment), _form(finance_client, payment, amount=typed), headers=PANEL)

    assert response.status_code == 200, response.content.decode()
    assert f"{shown} was refunded" in response.content.decode()
    assert Refund.objects.get().amount == stored


def test_the_customers_text_says_the_forints_with_an_ordinary_space(make_payment, refunder):
    payment = make_payment(amount=100000, currency="HUF", credits_bought=100)

    refund = refund_request(payment, actor=refunder, amount=25000, notify_customer=True)

    (sms,) = SmsMessage.objects.filter(about_id=refund.pk)
    assert "we refunded HUF 250 to your original payment method" in sms.body
    assert NBSP not in sms.body
