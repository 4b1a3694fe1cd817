"""POST /webhooks/stripe/: Stripe's events, signed as Stripe signs them, moving refunds and payments on."""

import json
import time

import pytest
from django.test import Client

from notifications.models import SmsMessage
from payments.gateway import GatewayRefund
from payments.models import GatewayEvent, LedgerEntry, Payment
from refunds.models import Refund
from refunds.services import payment_refundable, refund_record_answer
from tests.concurrency import run_together
from tests.factories import CustomerFactory, RefundFactory, stripe_payment
from tests.fakes.stripe import WEBHOOK_SECRET, stripe_event, stripe_refund, stripe_signature
from tests.helpers import assert_books_balance, refund_request, sms_jobs_for

URL = "/webhooks/stripe/"


@pytest.fixture
def webhook_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


@pytest.fixture
def stripe_client():
    # Stripe has no session and no CSRF token: the view must do without both.
    return Client(enforce_csrf_checks=True)


def deliver(client: Client, event: dict, **signing):
    payload = json.dumps(event)
    return client.post(
        URL,
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": stripe_signature(payload, **signing)},
    )


# Who may call it.


def test_it_rejects_get(db, stripe_client, webhook_secret):
    assert stripe_client.get(URL).status_code == 405


def test_it_needs_no_login_and_no_csrf_token(db, stripe_client, webhook_secret):
    response = deliver(stripe_client, stripe_event("customer.created", {"id": "cus_3Test", "object": "customer"}))

    assert response.status_code == 200


def test_it_refuses_a_bad_signature_and_changes_nothing(db, stripe_client, webhook_secret):
    payment = stripe_payment()
    refund = RefundFactory(payment=payment, gateway_refund_id="re_3BadSig")
    event = stripe_event("refund.updated", stripe_refund("re_3BadSig", payment, status="succeeded", amount=2500))

    response = deliver(stripe_client, event, secret="whsec_someone_else")

    assert response.status_code == 400
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING
    assert not LedgerEntry.objects.filter(refund_id=refund.pk).exists()
    assert not GatewayEvent.objects.exists()


def test_it_refuses_a_correctly_signed_event_with_a_stale_timestamp(db, stripe_client, webhook_secret):
    # A captured delivery replayed later: the signature is genuine, the time is not.
    payment = stripe_payment()
    refund = RefundFactory(payment=payment, gateway_refund_id="re_3Stale")
    event = stripe_event("refund.updated", stripe_refund("re_3Stale", payment, status="succeeded", amount=2500))

    response = deliver(stripe_client, event, timestamp=int(time.time()) - 301)

    assert response.status_code == 400
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING
    assert not GatewayEvent.objects.exists()


def test_it_refuses_a_payload_changed_after_signing(db, stripe_client, webhook_secret):
    payment = stripe_payment()
    refund = RefundFactory(payment=payment, gateway_refund_id="re_3Tampered")
    event = stripe_event("refund.updated", stripe_refund("re_3Tampered", payment, status="failed", amount=2500))
    signature = stripe_signature(json.dumps(event))
    event["data"]["object"]["status"] = "succeeded"

    response = stripe_client.post(
        URL, data=json.dumps(event), content_type="application/json", headers={"Stripe-Signature": signature}
    )

    assert response.status_code == 400
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING


@pytest.mark.parametrize("header", ["", "t=abc,v1=def", "v1=0123"])
def test_it_refuses_a_missing_or_malformed_signature(db, stripe_client, webhook_secret, header):
    event = stripe_event("customer.created", {"id": "cus_3Test", "object": "customer"})

    response = stripe_client.post(
        URL, data=json.dumps(event), content_type="application/json", headers={"Stripe-Signature": header}
    )

    assert response.status_code == 400


@pytest.mark.parametrize(
    "body", ["[]", '{"object": "event", "id": "evt_1", "type": "refund.updated", "data": []}', "{"]
)
def test_it_refuses_a_signed_body_that_is_not_an_event(db, stripe_client, webhook_secret, body):
    response = stripe_client.post(
        URL, data=body, content_type="application/json", headers={"Stripe-Signature": stripe_signature(body)}
    )

    assert response.status_code == 400
    assert not GatewayEvent.objects.exists()


def test_it_refuses_everything_when_no_webhook_secret_is_configured(db, stripe_client, settings):
    settings.STRIPE_WEBHOOK_SECRET = ""
    event = stripe_event("customer.created", {"id": "cus_3Test", "object": "customer"})

    assert deliver(stripe_client, event, secret="").status_code == 400


def test_it_answers_200_to_an_event_it_does_not_act_on_and_changes_nothing(db, stripe_client, webhook_secret):
    response = deliver(stripe_client, stripe_event("invoice.paid", {"id": "in_3Test", "object": "invoice"}))

    assert response.status_code == 200
    assert not GatewayEvent.objects.exists()


# Refunds the portal made.


@pytest.mark.django_db(transaction=True)
def test_a_refund_pending_at_stripe_succeeds_on_refund_updated(stripe_api, stripe_client, refunder):
    payment = stripe_payment(amount=10000, credits=500)
    stripe_api.refund_status = "pending"
    refund = refund_request(
        payment, actor=refunder, amount=3000, idempotency_key="form-key-pending", credits_to_remove=150
    )
    assert refund.status == Refund.Status.PENDING
    assert not LedgerEntry.objects.filter(refund_id=refund.pk).exists()
    assert sms_jobs_for(refund) == []

    stripe_refund_object = stripe_api.refunds[refund.gateway_refund_id] | {"status": "succeeded"}
    response = deliver(stripe_client, stripe_event("refund.updated", stripe_refund_object))

    assert response.status_code == 200
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    entry = LedgerEntry.objects.get(refund_id=refund.pk)
    assert (entry.money_delta, entry.credits_delta) == (-3000, -150)
    payment.refresh_from_db()
    assert (payment.amount_refunded, payment.status) == (3000, Payment.Status.PARTIALLY_REFUNDED)
    assert len(sms_jobs_for(refund)) == 1
    assert_books_balance()


def test_a_replayed_and_out_of_order_refund_event_changes_the_refund_once(db, stripe_client, webhook_secret):
    payment = stripe_payment()
    refund = RefundFactory(payment=payment, gateway_refund_id="re_3Replayed", credits_delta=-100)
    succeeded = stripe_event(
        "refund.updated", stripe_refund("re_3Replayed", payment, status="succeeded", amount=2500), created=2000
    )
    older_pending = stripe_event(
        "refund.created", stripe_refund("re_3Replayed", payment, status="pending", amount=2500), created=1000
    )

    responses = [deliver(stripe_client, succeeded) for _ in range(3)] + [deliver(stripe_client, older_pending)]

    assert [r.status_code for r in responses] == [200, 200, 200, 200]
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert LedgerEntry.objects.filter(refund_id=refund.pk).count() == 1
    assert len(sms_jobs_for(refund)) == 1
    payment.refresh_from_db()
    assert payment.amount_refunded == 2500
    assert GatewayEvent.objects.filter(event_id=succeeded["id"]).count() == 1
    assert_books_balance()


@pytest.mark.django_db(transaction=True)
def test_deliveries_of_one_event_at_the_same_moment_change_the_refund_once(webhook_secret):
    payment = stripe_payment()
    refund = RefundFactory(payment=payment, gateway_refund_id="re_3Concurrent", credits_delta=-50)
    event = stripe_event("refund.updated", stripe_refund("re_3Concurrent", payment, status="succeeded", amount=2500))
    # And the same news under other event ids, as Stripe also sends.
    others = [stripe_event("refund.updated", event["data"]["object"]) for _ in range(3)]

    responses = run_together(lambda i: deliver(Client(), event if i < 5 else others[i - 5]), 8)

    assert [r.status_code for r in responses] == [200] * 8, responses
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert LedgerEntry.objects.filter(refund_id=refund.pk).count() == 1
    assert len(sms_jobs_for(refund)) == 1
    assert GatewayEvent.objects.count() == 4
    assert_books_balance()


def test_refund_failed_fails_a_pending_refund_and_releases_its_amount(db, stripe_client, webhook_secret):
    payment = stripe_payment(amount=10000)
    refund = RefundFactory(payment=payment, amount=10000, gateway_refund_id="re_3Failed")
    assert payment_refundable(payment=payment).amount == 0
    event = stripe_event(
        "refund.failed",
        stripe_refund("re_3Failed", payment, status="failed", amount=10000, failure_reason="lost_or_stolen_card"),
    )

    assert deliver(stripe_client, event).status_code == 200

    refund.refresh_from_db()
    assert refund.status == Refund.Status.FAILED
    assert refund.failure_reason == "The customer's card was reported lost or stolen, so the bank returned the refund."
    assert not LedgerEntry.objects.filter(refund_id=refund.pk).exists()
    assert SmsMessage.objects.count() == 0
    assert payment_refundable(payment=payment).amount == 10000
    assert_books_balance()


def test_it_finds_a_refund_by_its_portal_metadata_before_the_gateway_id_is_stored(db, stripe_client, webhook_secret):
    # Stripe's event can overtake the answer to the create call: the refund has no gateway id yet.
    payment = stripe_payment()
    refund = RefundFactory(payment=payment)
    stripe_object = stripe_refund(
        "re_3Overtaking", payment, status="succeeded", amount=2500, metadata={"portal_refund_id": str(refund.pk)}
    )

    assert deliver(stripe_client, stripe_event("refund.created", stripe_object)).status_code == 200

    refund.refresh_from_db()
    assert (refund.status, refund.gateway_refund_id) == (Refund.Status.SUCCEEDED, "re_3Overtaking")
    assert not Refund.objects.filter(source=Refund.Source.EXTERNAL).exists()
    assert_books_balance()


def test_portal_metadata_on_another_payment_does_not_claim_the_refund(db, stripe_client, webhook_secret):
    payment, other = stripe_payment(), stripe_payment()
    refund = RefundFactory(payment=payment)
    stripe_object = stripe_refund(
        "re_3Elsewhere", other, status="succeeded", amount=1000, metadata={"portal_refund_id": str(refund.pk)}
    )

    deliver(stripe_client, stripe_event("refund.created", stripe_object))

    refund.refresh_from_db()
    assert (refund.status, refund.gateway_refund_id) == (Refund.Status.PENDING, "")
    assert Refund.objects.get(gateway_refund_id="re_3Elsewhere").payment == other
    assert_books_balance()


def test_charge_refunded_settles_the_refunds_it_lists(db, stripe_client, webhook_secret):
    payment = stripe_payment()
    first = RefundFactory(payment=payment, amount=2000, gateway_refund_id="re_3ListedA")
    second = RefundFactory(payment=payment, amount=3000, gateway_refund_id="re_3ListedB")
    charge = {
        "id": "ch_3Listed",
        "object": "charge",
        "payment_intent": payment.gateway_id,
        "amount_refunded": 5000,
        "refunds": {
            "object": "list",
            "data": [
                stripe_refund("re_3ListedA", payment, status="succeeded", amount=2000),
                stripe_refund("re_3ListedB", payment, status="succeeded", amount=3000),
            ],
        },
    }

    assert deliver(stripe_client, stripe_event("charge.refunded", charge)).status_code == 200

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == second.status == Refund.Status.SUCCEEDED
    payment.refresh_from_db()
    assert payment.amount_refunded == 5000
    assert_books_balance()


# Refunds made outside the portal.


def test_a_refund_made_in_the_stripe_dashboard_is_recorded_and_entered_in_the_ledger(db, stripe_client, webhook_secret):
    payment = stripe_payment(amount=10000, credits=500)
    event = stripe_event(
        "refund.created", stripe_refund("re_3Dashboard", payment, status="succeeded", amount=4000, reason="duplicate")
    )

    assert deliver(stripe_client, event).status_code == 200
    assert deliver(stripe_client, event).status_code == 200  # and its replay

    refund = Refund.objects.get(gateway_refund_id="re_3Dashboard")
    assert refund.source == Refund.Source.EXTERNAL
    assert refund.requested_by is None
    assert (refund.status, refund.amount, refund.type) == (Refund.Status.SUCCEEDED, 4000, Refund.Type.PARTIAL)
    assert (refund.reason, refund.note) == (Refund.Reason.DUPLICATE, "Refunded outside the portal")
    entry = LedgerEntry.objects.get(refund_id=refund.pk)
    assert (entry.kind, entry.money_delta, entry.credits_delta, entry.actor) == ("refund", -4000, 0, None)
    payment.refresh_from_db()
    assert (payment.amount_refunded, payment.status) == (4000, Payment.Status.PARTIALLY_REFUNDED)
    payment.user.refresh_from_db()
    assert payment.user.credits == 500  # nobody here decided to take credits back
    assert SmsMessage.objects.count() == 0
    assert_books_balance()


def test_an_external_refund_without_a_reason_is_requested_by_customer_and_full_when_it_takes_the_rest(
    db, stripe_client, webhook_secret
):
    payment = stripe_payment(amount=10000)
    event = stripe_event(
        "charge.refunded",
        {
            "id": "ch_3Full",
            "object": "charge",
            "payment_intent": payment.gateway_id,
            "refunds": {
                "object": "list",
                "data": [stripe_refund("re_3Full", payment, status="succeeded", amount=10000)],
            },
        },
    )

    deliver(stripe_client, event)

    refund = Refund.objects.get(gateway_refund_id="re_3Full")
    assert (refund.reason, refund.type) == (Refund.Reason.REQUESTED_BY_CUSTOMER, Refund.Type.FULL)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.REFUNDED
    assert_books_balance()


def test_an_external_refund_still_pending_reserves_its_amount_until_it_settles(db, stripe_client, webhook_secret):
    payment = stripe_payment(amount=10000)
    deliver(
        stripe_client, stripe_event("refund.created", stripe_refund("re_3Slow", payment, status="pending", amount=6000))
    )

    refund = Refund.objects.get(gateway_refund_id="re_3Slow")
    assert refund.status == Refund.Status.PENDING
    assert payment_refundable(payment=payment).amount == 4000
    assert not LedgerEntry.objects.filter(refund_id=refund.pk).exists()

    deliver(
        stripe_client,
        stripe_event("refund.updated", stripe_refund("re_3Slow", payment, status="succeeded", amount=6000)),
    )

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert LedgerEntry.objects.filter(refund_id=refund.pk).count() == 1
    assert_books_balance()


def test_a_refund_on_a_payment_the_portal_does_not_know_is_ignored(db, stripe_client, webhook_secret):
    stranger = Payment(gateway="stripe", gateway_id="pi_3NotOurs", currency="USD")
    event = stripe_event("refund.created", stripe_refund("re_3NotOurs", stranger, status="succeeded", amount=500))

    assert deliver(stripe_client, event).status_code == 200

    assert not Refund.objects.exists()
    assert GatewayEvent.objects.get(event_id=event["id"]).outcome.startswith("ignored")


# A refund that fails after it had succeeded.


def test_a_refund_failing_after_it_succeeded_is_reversed_and_the_customer_told(db, stripe_client, webhook_secret):
    payment = stripe_payment(amount=10000, credits=500)
    refund = RefundFactory(payment=payment, amount=4000, gateway_refund_id="re_3Bounced", credits_delta=-200)
    refund_record_answer(refund=refund, answer=GatewayRefund(id="re_3Bounced", status="succeeded"))
    payment.user.refresh_from_db()
    assert payment.user.credits == 300
    failed = stripe_event(
        "refund.failed",
        stripe_refund("re_3Bounced", payment, status="failed", amount=4000, failure_reason="expired_or_canceled_card"),
    )

    responses = [deliver(stripe_client, failed), deliver(stripe_client, failed)]
    # The same failure again under another event id (Stripe sends refund.updated with it too).
    responses.append(deliver(stripe_client, stripe_event("refund.updated", failed["data"]["object"])))

    assert [r.status_code for r in responses] == [200, 200, 200]
    refund.refresh_from_db()
    assert refund.status == Refund.Status.FAILED
    assert refund.failure_reason.startswith("The customer's card has expired or was canceled")
    reversal = LedgerEntry.objects.get(refund_id=refund.pk, kind=LedgerEntry.Kind.REFUND_REVERSAL)
    assert (reversal.money_delta, reversal.credits_delta, reversal.actor) == (4000, 200, None)
    payment.refresh_from_db()
    assert (payment.amount_refunded, payment.status) == (0, Payment.Status.SUCCEEDED)
    payment.user.refresh_from_db()
    assert payment.user.credits == 500
    refund_sms, correction = sms_jobs_for(refund)
    assert "we refunded $40.00" in refund_sms.body
    assert "returned our refund of $40.00" in correction.body
    assert "200 credits" in correction.body
    assert payment_refundable(payment=payment).amount == 10000  # it can be refunded again
    assert_books_balance()


def test_a_late_success_notice_after_the_failure_changes_nothing(db, stripe_client, webhook_secret):
    payment = stripe_payment()
    refund = RefundFactory(payment=payment, gateway_refund_id="re_3Late")
    refund_record_answer(refund=refund, answer=GatewayRefund(id="re_3Late", status="succeeded"))
    deliver(
        stripe_client, stripe_event("refund.failed", stripe_refund("re_3Late", payment, status="failed", amount=2500))
    )

    deliver(
        stripe_client,
        stripe_event("refund.updated", stripe_refund("re_3Late", payment, status="succeeded", amount=2500)),
    )

    refund.refresh_from_db()
    assert refund.status == Refund.Status.FAILED
    assert LedgerEntry.objects.filter(refund_id=refund.pk).count() == 2  # the refund and its reversal, nothing more
    assert_books_balance()


# Payments made elsewhere (a checkout on the website).


def test_charge_succeeded_for_a_portal_customer_records_the_payment_and_its_purchase_once(
    db, stripe_client, webhook_secret
):
    customer = CustomerFactory(credits=0)
    metadata = {"portal_user_id": str(customer.pk), "credits": "250"}
    charge = {
        "id": "ch_3Checkout",
        "object": "charge",
        "amount": 3900,
        "amount_captured": 3900,
        "currency": "usd",
        "payment_intent": "pi_3Checkout",
        "description": "Plus pack — 250 credits",
        "metadata": metadata,
        "created": 1_790_000_000,
    }
    intent = {
        "id": "pi_3Checkout",
        "object": "payment_intent",
        "amount": 3900,
        "amount_received": 3900,
        "currency": "usd",
        "metadata": metadata,
    }

    responses = [
        deliver(stripe_client, stripe_event("charge.succeeded", charge)),
        deliver(stripe_client, stripe_event("payment_intent.succeeded", intent)),
    ]

    assert [r.status_code for r in responses] == [200, 200]
    payment = Payment.objects.get()
    assert (payment.gateway, payment.gateway_id, payment.user) == ("stripe", "pi_3Checkout", customer)
    assert (payment.amount, payment.currency, payment.credits_bought) == (3900, "USD", 250)
    assert payment.description == "Plus pack — 250 credits"
    entry = LedgerEntry.objects.get(payment=payment)
    assert (entry.kind, entry.credits_delta, entry.money_delta, entry.balance_after) == ("purchase", 250, 3900, 250)
    customer.refresh_from_db()
    assert customer.credits == 250
    assert_books_balance()


def test_a_payment_without_portal_metadata_is_ignored(db, stripe_client, webhook_secret):
    charge = {"id": "ch_3Anonymous", "object": "charge", "amount": 500, "currency": "usd", "metadata": {}}

    assert deliver(stripe_client, stripe_event("charge.succeeded", charge)).status_code == 200

    assert not Payment.objects.exists()
