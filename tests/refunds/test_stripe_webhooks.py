"""POST /webhooks/stripe/: Stripe's events, signed as Stripe signs them, moving refunds and payments on."""

import json
import time

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.roles import FINANCE
from audit.models import AuditEvent
from notifications.models import SmsMessage
from payments.gateway import GatewayRefund
from payments.models import Dispute, GatewayEvent, LedgerEntry, Payment
from refunds.models import Refund
from refunds.services import payment_refundable, refund_record_answer
from tests.concurrency import run_together
from tests.factories import CustomerFactory, RefundFactory, StaffFactory, stripe_payment
from tests.fakes.stripe import WEBHOOK_SECRET, stripe_event, stripe_refund, stripe_signature
from tests.fakes.stripe_events import stripe_dispute
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


# charge.refund.updated: the same Refund as refund.updated, sent in every API version.


def test_charge_refund_updated_settles_a_refund_like_refund_updated(db, stripe_client, webhook_secret):
    payment = stripe_payment(amount=10000)
    refund = RefundFactory(payment=payment, gateway_refund_id="re_3ChargeRefundUpdated", credits_delta=-100)
    event = stripe_event(
        "charge.refund.updated", stripe_refund("re_3ChargeRefundUpdated", payment, status="succeeded", amount=2500)
    )

    assert deliver(stripe_client, event).status_code == 200

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert LedgerEntry.objects.filter(refund_id=refund.pk).count() == 1
    assert GatewayEvent.objects.get(event_id=event["id"]).type == "charge.refund.updated"
    assert_books_balance()


# API versions: Stripe writes each event in its endpoint's version; before 2024-10-28 it sends no
# refund.* event for a card payment's refund.


def test_an_event_in_an_older_api_version_is_acted_on_and_reported(db, stripe_client, webhook_secret, caplog, client):
    payment = stripe_payment(amount=10000)
    refund = RefundFactory(payment=payment, gateway_refund_id="re_3OldVersion")
    event = stripe_event("refund.updated", stripe_refund("re_3OldVersion", payment, status="succeeded", amount=2500))
    event["api_version"] = "2023-10-16"

    with caplog.at_level("INFO"):
        assert deliver(stripe_client, event).status_code == 200

    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED  # acted on all the same
    assert GatewayEvent.objects.get(event_id=event["id"]).api_version == "2023-10-16"
    lines = [r for r in caplog.records if r.name == "refunds.services.notices"]
    assert len(lines) == 1 and lines[0].levelname == "WARNING"
    assert "API version 2023-10-16, older than 2024-10-28" in lines[0].getMessage()
    assert payment.user.email not in caplog.text and str(payment.user.phone) not in caplog.text
    health = json.loads(client.get("/healthz").content)
    assert health["stripe_webhooks"] == {"api_version": "2023-10-16", "needed": "2024-10-28", "outdated": True}
    client.force_login(StaffFactory(roles=[FINANCE]))
    books = client.get(reverse("books")).content.decode()
    assert "Stripe webhooks: API version 2023-10-16 is older than 2024-10-28" in books
    assert "refunds made in the Stripe Dashboard" in books

    # The endpoint moved to a current version: its next event clears the report.
    deliver(
        stripe_client,
        stripe_event("refund.updated", stripe_refund("re_3OldVersion", payment, status="succeeded", amount=2500)),
    )

    health = json.loads(client.get("/healthz").content)
    assert health["stripe_webhooks"]["outdated"] is False
    assert "Stripe webhooks: API version" not in client.get(reverse("books")).content.decode()


def test_an_event_naming_no_api_version_is_reported_as_unknown(db, stripe_client, webhook_secret, client):
    event = stripe_event("charge.succeeded", {"id": "ch_3NoVersion", "object": "charge", "metadata": {}})
    event["api_version"] = None

    assert deliver(stripe_client, event).status_code == 200

    assert GatewayEvent.objects.get(event_id=event["id"]).api_version == "unknown"
    assert json.loads(client.get("/healthz").content)["stripe_webhooks"]["outdated"] is True


def test_charge_refunded_without_its_refunds_in_an_old_version_says_who_will_record_the_refund(
    db, stripe_client, webhook_secret
):
    payment = stripe_payment()
    charge = {"id": "ch_3NoList", "object": "charge", "payment_intent": payment.gateway_id, "amount_refunded": 500}
    event = stripe_event("charge.refunded", charge)
    event["api_version"] = "2024-06-20"

    assert deliver(stripe_client, event).status_code == 200

    outcome = GatewayEvent.objects.get(event_id=event["id"]).outcome
    assert outcome.startswith("not recorded: the event lists no refunds and API version 2024-06-20")
    assert "drift report" in outcome
    assert not Refund.objects.exists()


# Signed, but malformed: never a 500, one log line, nothing changed. An event that cannot be named
# (no id, an id that is not Stripe's, no object) is refused with a 400: there is nothing to record.
# One that can be named but carries a value no Stripe API sends is answered 200 and recorded once
# as unusable (or ignored): Stripe retries any other answer for three days, and it never gets better.


def arabic_indic(number: int) -> str:
    """`number` in Arabic-Indic digits: what Python's int() takes and Stripe's metadata never means."""
    return "".join(chr(0x660 + int(digit)) for digit in str(number))


def _malformed(case: str, payment: Payment) -> dict:
    customer = payment.user
    checkout = {
        "id": "ch_3Malformed",
        "object": "charge",
        "amount": 1900,
        "amount_captured": 1900,
        "currency": "usd",
        "metadata": {"portal_user_id": str(customer.pk), "credits": "100"},
        "created": 1_790_000_000,
    }
    dashboard_refund = stripe_refund("re_3Malformed", payment, status="succeeded", amount=2500)
    dispute = stripe_dispute("du_3Malformed", payment)
    cases = {
        "no event id": lambda: stripe_event("refund.created", dashboard_refund) | {"id": None},
        "NUL in the event id": lambda: stripe_event("refund.created", dashboard_refund, event_id="evt_3\x00Nul"),
        "a 400-character event id": lambda: stripe_event(
            "refund.created", dashboard_refund, event_id="evt_" + "a" * 396
        ),
        "no object": lambda: {**stripe_event("refund.created", dashboard_refund), "data": {}},
        "an object that is a list": lambda: {
            **stripe_event("refund.created", dashboard_refund),
            "data": {"object": []},
        },
        "a type that is a number": lambda: stripe_event("refund.created", dashboard_refund) | {"type": 7},
        "non-ASCII digits in the customer id": lambda: stripe_event(
            "charge.succeeded", checkout | {"metadata": {"portal_user_id": arabic_indic(customer.pk), "credits": "100"}}
        ),
        "non-ASCII digits in the credits": lambda: stripe_event(
            "charge.succeeded",
            checkout | {"metadata": {"portal_user_id": str(customer.pk), "credits": arabic_indic(100)}},
        ),
        "a payment of 10^20": lambda: stripe_event(
            "charge.succeeded", checkout | {"amount": 10**20, "amount_captured": 10**20}
        ),
        "a refund of 10^20": lambda: stripe_event("refund.created", dashboard_refund | {"amount": 10**20}),
        "a refund of more than the payment": lambda: stripe_event(
            "refund.created", dashboard_refund | {"amount": 10001}
        ),
        "a dispute of 10^20": lambda: stripe_event("charge.dispute.created", dispute | {"amount": 10**20}),
        "currency u$d on a payment": lambda: stripe_event("charge.succeeded", checkout | {"currency": "u$d"}),
        "currency u$d on a dispute": lambda: stripe_event("charge.dispute.created", dispute | {"currency": "u$d"}),
        "an event created in 10**15": lambda: stripe_event("refund.created", dashboard_refund, created=10**15),
        "a payment created in 10**15": lambda: stripe_event("charge.succeeded", checkout | {"created": 10**15}),
        "an evidence due date in 10**15": lambda: stripe_event(
            "charge.dispute.created", dispute | {"evidence_details": {"due_by": 10**15}}
        ),
        "NUL in a dispute id": lambda: stripe_event("charge.dispute.created", dispute | {"id": "du_\x00"}),
        "NUL in a refund id": lambda: stripe_event("refund.created", dashboard_refund | {"id": "re_\x00"}),
        "a refund status that is a list": lambda: stripe_event("refund.created", dashboard_refund | {"status": ["x"]}),
        "a refund status Stripe does not have": lambda: stripe_event(
            "refund.created", dashboard_refund | {"status": "done"}
        ),
        "a failure reason that is an object": lambda: stripe_event(
            "refund.failed", dashboard_refund | {"status": "failed", "failure_reason": {"code": 1}}
        ),
        "an amount that is text": lambda: stripe_event("charge.dispute.created", dispute | {"amount": "10000"}),
        "an amount that is true": lambda: stripe_event("refund.created", dashboard_refund | {"amount": True}),
        "metadata that is a list": lambda: stripe_event(
            "charge.succeeded", checkout | {"metadata": ["portal_user_id"]}
        ),
        "metadata and description of the wrong types": lambda: stripe_event(
            "charge.succeeded",
            checkout | {"description": {"x": 1}, "metadata": {"portal_user_id": str(customer.pk), "credits": 5}},
        ),
        "a created that is text": lambda: stripe_event("charge.succeeded", checkout | {"created": "yesterday"}),
        "a dispute status that is a number": lambda: stripe_event("charge.dispute.created", dispute | {"status": 5}),
        "a dispute naming no payment": lambda: stripe_event(
            "charge.dispute.created", dispute | {"charge": None, "payment_intent": {"id": None}}
        ),
    }
    return cases[case]()


REFUSED = {
    "no event id",
    "NUL in the event id",
    "a 400-character event id",
    "no object",
    "an object that is a list",
    "a type that is a number",
}
MALFORMED = [
    "no event id",
    "NUL in the event id",
    "a 400-character event id",
    "no object",
    "an object that is a list",
    "a type that is a number",
    "non-ASCII digits in the customer id",
    "non-ASCII digits in the credits",
    "a payment of 10^20",
    "a refund of 10^20",
    "a refund of more than the payment",
    "a dispute of 10^20",
    "currency u$d on a payment",
    "currency u$d on a dispute",
    "an event created in 10**15",
    "a payment created in 10**15",
    "an evidence due date in 10**15",
    "NUL in a dispute id",
    "NUL in a refund id",
    "a refund status that is a list",
    "a refund status Stripe does not have",
    "a failure reason that is an object",
    "an amount that is text",
    "an amount that is true",
    "metadata that is a list",
    "metadata and description of the wrong types",
    "a created that is text",
    "a dispute status that is a number",
    "a dispute naming no payment",
]


def _money_rows() -> tuple:
    """Every row a webhook could change, as values."""
    return (
        list(Payment.objects.order_by("pk").values()),
        list(Refund.objects.order_by("pk").values()),
        list(LedgerEntry.objects.order_by("pk").values()),
        list(Dispute.objects.order_by("pk").values()),
        list(User.objects.order_by("pk").values_list("pk", "credits")),
        list(AuditEvent.objects.order_by("pk").values_list("pk", flat=True)),
        list(SmsMessage.objects.order_by("pk").values_list("pk", flat=True)),
    )


@pytest.mark.parametrize("case", MALFORMED)
def test_a_signed_but_malformed_event_is_never_a_500_and_changes_nothing(
    db, stripe_client, webhook_secret, caplog, case
):
    payment = stripe_payment(amount=10000, credits=500)
    event = _malformed(case, payment)
    before = _money_rows()

    with caplog.at_level("INFO"):
        response = deliver(stripe_client, event)

    assert response.status_code == (400 if case in REFUSED else 200), response.content
    assert _money_rows() == before
    recorded = list(GatewayEvent.objects.values_list("outcome", flat=True))
    if case in REFUSED:
        assert recorded == []
    else:
        # Recorded once as what it is, so that a retry of it finds it and changes nothing either.
        assert len(recorded) == 1 and recorded[0].startswith(("unusable:", "ignored:")), recorded
        assert deliver(stripe_client, event).status_code == 200
        assert GatewayEvent.objects.count() == 1
    ours = [r for r in caplog.records if r.name.startswith(("payments", "refunds"))]
    assert len(ours) == 1, [r.getMessage() for r in ours]
    assert "\x00" not in ours[0].getMessage()
