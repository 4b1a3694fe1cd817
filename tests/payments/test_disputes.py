"""Disputes: Stripe's charge.dispute.* events, signed and posted to the real webhook URL, recorded
on the payment, shown on the Payments tab and in the refund dialog, blocking refunds while open,
and, lost, written to the ledger with the credits taken back per DISPUTE_LOST_CREDITS."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent
from notifications.models import SmsMessage
from payments.audit import PaymentAction
from payments.gateway import DisputeStatus
from payments.models import Dispute, GatewayEvent, LedgerEntry
from refunds.models import Refund
from refunds.services import RefundRefused
from tests.concurrency import run_together
from tests.factories import stripe_payment
from tests.fakes.stripe import WEBHOOK_SECRET
from tests.fakes.stripe_events import dispute_event, stripe_charge_id, stripe_deliver, stripe_dispute
from tests.helpers import assert_books_balance, refund_request

# The refund service takes its locks outside any transaction, as a request does.
pytestmark = pytest.mark.django_db(transaction=True)

HTMX = {"HX-Request": "true", "HX-Target": "modal"}


@pytest.fixture
def webhook_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET


@pytest.fixture
def stripe_client():
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def finance_client(client, finance_staff):
    client.force_login(finance_staff)
    return client


def open_dispute(stripe_client, payment, dispute_id="du_3Open", **fields) -> dict:
    """Stripe opening a dispute on `payment`; the Dispute object it sent."""
    dispute = stripe_dispute(dispute_id, payment, **fields)
    assert stripe_deliver(stripe_client, dispute_event("charge.dispute.created", dispute)).status_code == 200
    return dispute


def close_dispute(stripe_client, dispute: dict, status: str):
    closed = dispute | {"status": status, "is_charge_refundable": False}
    return stripe_deliver(stripe_client, dispute_event("charge.dispute.closed", closed))


def books_verified() -> None:
    """`manage.py verify_ledger` finds every rule holding (it raises when one does not)."""
    call_command("verify_ledger")
    assert_books_balance()


# Recorded.


def test_dispute_created_is_recorded_on_the_payment_and_audited_with_stripe_as_the_actor(
    db, stripe_client, webhook_secret
):
    payment = stripe_payment(amount=10000, credits=500)
    sent = open_dispute(stripe_client, payment, reason="product_not_received", amount=8000)

    dispute = Dispute.objects.get()
    assert (dispute.payment, dispute.gateway_dispute_id) == (payment, "du_3Open")
    assert (dispute.amount, dispute.currency, dispute.reason) == (8000, "USD", "Product not received")
    assert dispute.status == Dispute.Status.NEEDS_RESPONSE
    assert int(dispute.evidence_due_at.timestamp()) == sent["evidence_details"]["due_by"]
    assert int(dispute.opened_at.timestamp()) == sent["created"]
    assert (dispute.charge_refundable, dispute.ledger_entry, dispute.credits_taken) == (False, None, 0)
    event = AuditEvent.objects.get(action=PaymentAction.DISPUTE_OPENED)
    assert (event.actor, event.actor_label, event.target_user) == (None, "Stripe", payment.user)
    assert event.about_id == dispute.pk
    assert event.after["status"] == "needs_response"
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.DISPUTE_LOST).exists()
    books_verified()


def test_a_dispute_found_by_its_charge_when_the_payment_was_recorded_under_it(db, stripe_client, webhook_secret):
    payment = stripe_payment(gateway_id="ch_3OldCharge1")
    dispute = stripe_dispute("du_3ByCharge", payment) | {"charge": "ch_3OldCharge1", "payment_intent": None}

    stripe_deliver(stripe_client, dispute_event("charge.dispute.created", dispute))

    assert Dispute.objects.get().payment == payment


def test_a_dispute_on_a_payment_the_portal_does_not_know_is_ignored(db, stripe_client, webhook_secret):
    payment = stripe_payment()
    dispute = stripe_dispute("du_3Stranger", payment) | {"charge": "ch_3NotOurs", "payment_intent": "pi_3NotOurs"}
    event = dispute_event("charge.dispute.created", dispute)

    assert stripe_deliver(stripe_client, event).status_code == 200

    assert not Dispute.objects.exists()
    assert GatewayEvent.objects.get(event_id=event["id"]).outcome.startswith("ignored")


def test_every_dispute_status_stripe_has_is_one_of_ours():
    # The boundary maps Stripe's statuses onto DisputeStatus; the model must know each of them.
    assert set(Dispute.Status.values) == DisputeStatus.OPEN | DisputeStatus.CLOSED
    assert set(Dispute.OPEN) == DisputeStatus.OPEN


# Shown, and refunds blocked.


def test_an_open_dispute_shows_a_badge_on_the_payments_tab_row(db, stripe_client, webhook_secret, finance_client):
    disputed, quiet = stripe_payment(), None
    quiet = stripe_payment(customer=disputed.user)
    open_dispute(stripe_client, disputed)

    html = finance_client.get(reverse("user_payments", args=[disputed.user_id])).content.decode()

    disputed_row = html.split(f'id="payment-{disputed.pk}"')[1].split("</tr>")[0]
    quiet_row = html.split(f'id="payment-{quiet.pk}"')[1].split("</tr>")[0]
    assert '<span class="status status-failed">Disputed</span>' in disputed_row
    assert "Disputed" not in quiet_row  # the positive control above is about the disputed row only


def test_an_open_dispute_refuses_a_refund_in_the_service_and_changes_nothing(
    db, stripe_client, webhook_secret, finance_staff
):
    payment = stripe_payment(amount=10000, credits=500)
    open_dispute(stripe_client, payment, amount=10000, reason="fraudulent")

    with pytest.raises(RefundRefused) as refused:
        refund_request(payment, actor=finance_staff, amount=2500)

    assert str(refused.value).startswith(
        "The customer's bank disputes this payment ($100.00, Fraudulent: needs response"
    )
    assert "cannot be refunded while the dispute is open" in str(refused.value)
    assert not Refund.objects.exists()
    payment.refresh_from_db()
    assert payment.amount_refunded == 0


def test_the_refund_dialog_shows_the_dispute_and_says_why_no_refund_can_be_made(
    db, stripe_client, webhook_secret, finance_client
):
    payment = stripe_payment(amount=10000)
    open_dispute(stripe_client, payment, dispute_id="du_3Dialog")
    url = reverse("refund_create", args=[payment.user_id, payment.pk])

    opened = finance_client.get(url, headers=HTMX).content.decode()

    assert "<dt>Dispute</dt>" in opened and "du_3Dialog" in opened
    assert "response due" in opened
    assert '<div class="alert alert-error" role="alert"><p>The customer&#x27;s bank disputes this payment' in opened
    key = opened.split('name="idempotency_key" value="')[1].split('"')[0]
    data = {"type": "partial", "amount": "25.00", "reason": "requested_by_customer", "note": "",
            "credits_to_remove": "0", "idempotency_key": key, "expected_reserved": "0"}  # fmt: skip
    submitted = finance_client.post(url, data, headers={"HX-Request": "true", "HX-Target": "refund-panel"})

    assert submitted.status_code == 422
    html = submitted.content.decode()
    assert "cannot be refunded while the dispute is open" in html
    assert html.count("The customer&#x27;s bank disputes this payment") == 1  # said once, not twice
    assert not Refund.objects.exists()


def test_an_inquiry_stripe_still_lets_us_refund_does_not_block_the_refund(
    db, stripe_client, webhook_secret, finance_staff
):
    payment = stripe_payment(amount=10000, credits=500)
    open_dispute(stripe_client, payment, status="warning_needs_response", is_charge_refundable=True)
    assert Dispute.objects.get().status == Dispute.Status.INQUIRY_NEEDS_RESPONSE

    refund = refund_request(payment, actor=finance_staff, amount=2500, type=Refund.Type.CREDITS)

    assert refund.status == Refund.Status.SUCCEEDED


# Closed.


def test_a_dispute_won_unblocks_refunds(db, stripe_client, webhook_secret, finance_staff):
    payment = stripe_payment(amount=10000, credits=500)
    dispute = open_dispute(stripe_client, payment)
    with pytest.raises(RefundRefused):
        refund_request(payment, actor=finance_staff, amount=2500, type=Refund.Type.CREDITS)

    assert close_dispute(stripe_client, dispute, "won").status_code == 200

    recorded = Dispute.objects.get()
    assert recorded.status == Dispute.Status.WON
    assert recorded.ledger_entry is None
    closed = AuditEvent.objects.get(action=PaymentAction.DISPUTE_CLOSED)
    assert (closed.actor_label, closed.before["status"], closed.after["status"]) == ("Stripe", "needs_response", "won")
    refund = refund_request(payment, actor=finance_staff, amount=2500, type=Refund.Type.CREDITS)
    assert refund.status == Refund.Status.SUCCEEDED
    payment.user.refresh_from_db()
    assert payment.user.credits == 500 + 125
    books_verified()


def test_after_a_won_dispute_a_card_refund_goes_to_stripe_again(stripe_api, finance_staff):
    stripe_client = Client(enforce_csrf_checks=True)
    payment = stripe_payment(amount=10000, credits=500)
    dispute = open_dispute(stripe_client, payment)
    close_dispute(stripe_client, dispute, "won")

    refund = refund_request(payment, actor=finance_staff, amount=2500)

    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.gateway_refund_id in stripe_api.refunds
    books_verified()


def test_a_dispute_lost_writes_the_money_to_the_ledger_and_takes_back_the_credits(
    db, stripe_client, webhook_secret, settings
):
    settings.DISPUTE_LOST_CREDITS = "take_back"
    payment = stripe_payment(amount=10000, credits=500)
    dispute = open_dispute(stripe_client, payment)

    assert close_dispute(stripe_client, dispute, "lost").status_code == 200

    recorded = Dispute.objects.get()
    assert (recorded.status, recorded.credits_taken) == (Dispute.Status.LOST, 500)
    entry = recorded.ledger_entry
    assert (entry.kind, entry.money_delta, entry.currency, entry.credits_delta) == ("dispute_lost", -10000, "USD", -500)
    assert (entry.payment, entry.actor, entry.balance_after) == (payment, None, 0)
    payment.user.refresh_from_db()
    assert payment.user.credits == 0
    taken = AuditEvent.objects.get(action=PaymentAction.DISPUTE_CREDITS_TAKEN)
    assert (taken.actor_label, taken.before, taken.after) == (
        "Stripe",
        {"credits": 500},
        {"credits": 0, "credits_taken": 500},
    )
    assert SmsMessage.objects.count() == 0  # DISPUTE_LOST_SMS is off by default
    books_verified()


def test_a_lost_dispute_refuses_any_later_refund(db, stripe_client, webhook_secret, finance_staff):
    payment = stripe_payment(amount=10000, credits=500)
    close_dispute(stripe_client, open_dispute(stripe_client, payment), "lost")

    with pytest.raises(RefundRefused, match=r"took this payment back in a dispute .* It cannot be refunded as well"):
        refund_request(payment, actor=finance_staff, amount=2500, type=Refund.Type.CREDITS)

    assert not Refund.objects.exists()


def test_credits_taken_back_are_capped_at_the_balance_and_the_customer_may_be_texted(
    db, stripe_client, webhook_secret, settings
):
    settings.DISPUTE_LOST_SMS = True
    payment = stripe_payment(amount=10000, credits=500)
    LedgerEntry.objects.create(user=payment.user, kind=LedgerEntry.Kind.USAGE, credits_delta=-380, balance_after=120)
    payment.user.credits = 120
    payment.user.save(update_fields=["credits"])
    dispute = open_dispute(stripe_client, payment)

    close_dispute(stripe_client, dispute, "lost")

    recorded = Dispute.objects.get()
    assert recorded.credits_taken == 120
    payment.user.refresh_from_db()
    assert payment.user.credits == 0
    message = SmsMessage.objects.get(about_type=ContentType.objects.get_for_model(Dispute), about_id=recorded.pk)
    assert "$100.00" in message.body and "120 credits" in message.body
    books_verified()


def test_a_partly_disputed_payment_lost_takes_back_its_share_of_the_credits(db, stripe_client, webhook_secret):
    payment = stripe_payment(amount=10000, credits=500)
    dispute = open_dispute(stripe_client, payment, amount=4000)

    close_dispute(stripe_client, dispute, "lost")

    assert Dispute.objects.get().credits_taken == 200
    assert LedgerEntry.objects.get(kind="dispute_lost").money_delta == -4000
    books_verified()


def test_with_dispute_lost_credits_keep_a_lost_dispute_moves_only_money(db, stripe_client, webhook_secret, settings):
    settings.DISPUTE_LOST_CREDITS = "keep"
    payment = stripe_payment(amount=10000, credits=500)
    dispute = open_dispute(stripe_client, payment)

    close_dispute(stripe_client, dispute, "lost")

    entry = LedgerEntry.objects.get(kind="dispute_lost")
    assert (entry.money_delta, entry.credits_delta) == (-10000, 0)
    payment.user.refresh_from_db()
    assert payment.user.credits == 500
    assert not AuditEvent.objects.filter(action=PaymentAction.DISPUTE_CREDITS_TAKEN).exists()
    books_verified()


def test_a_lost_dispute_shows_on_the_payments_tab(db, stripe_client, webhook_secret, finance_client):
    payment = stripe_payment()
    close_dispute(stripe_client, open_dispute(stripe_client, payment), "lost")

    html = finance_client.get(reverse("user_payments", args=[payment.user_id])).content.decode()

    row = html.split(f'id="payment-{payment.pk}"')[1].split("</tr>")[0]
    assert "Dispute lost" in row


def test_a_dispute_first_heard_of_as_lost_is_recorded_with_its_ledger_entry(db, stripe_client, webhook_secret):
    payment = stripe_payment(amount=10000, credits=500)
    lost = stripe_dispute("du_3LateNews", payment, status="lost")

    stripe_deliver(stripe_client, dispute_event("charge.dispute.closed", lost))

    recorded = Dispute.objects.get()
    assert recorded.status == Dispute.Status.LOST
    assert recorded.ledger_entry.money_delta == -10000
    books_verified()


# Exactly once, in any order.


def test_a_replayed_dispute_event_changes_nothing(db, stripe_client, webhook_secret):
    payment = stripe_payment(amount=10000, credits=500)
    dispute = stripe_dispute("du_3Replay", payment)
    opened = dispute_event("charge.dispute.created", dispute)
    lost = dispute_event("charge.dispute.closed", dispute | {"status": "lost"})
    stripe_deliver(stripe_client, opened)
    stripe_deliver(stripe_client, lost)
    snapshot = (
        list(Dispute.objects.values()),
        list(LedgerEntry.objects.values()),
        list(AuditEvent.objects.values_list("pk", flat=True)),
    )

    responses = [stripe_deliver(stripe_client, event) for event in (opened, lost, lost)]
    # The same news under other event ids, as Stripe also sends it (funds_withdrawn, a second closed).
    responses.append(
        stripe_deliver(stripe_client, dispute_event("charge.dispute.closed", dispute | {"status": "lost"}))
    )
    responses.append(stripe_deliver(stripe_client, dispute_event("charge.dispute.funds_withdrawn", dispute)))

    assert [r.status_code for r in responses] == [200] * 5
    assert snapshot == (
        list(Dispute.objects.values()),
        list(LedgerEntry.objects.values()),
        list(AuditEvent.objects.values_list("pk", flat=True)),
    )
    payment.user.refresh_from_db()
    assert payment.user.credits == 0
    books_verified()


def test_older_news_after_a_closed_dispute_changes_nothing(db, stripe_client, webhook_secret):
    payment = stripe_payment()
    dispute = stripe_dispute("du_3OutOfOrder", payment)
    won = dispute_event("charge.dispute.closed", dispute | {"status": "won"}, created=2_000_000_000)
    late_review = dispute_event("charge.dispute.updated", dispute | {"status": "under_review"}, created=1_999_999_000)
    later_but_reopening = dispute_event("charge.dispute.updated", dispute, created=2_000_000_100)

    for event in (won, late_review, later_but_reopening):
        assert stripe_deliver(stripe_client, event).status_code == 200

    assert Dispute.objects.get().status == Dispute.Status.WON
    assert GatewayEvent.objects.get(event_id=late_review["id"]).outcome.endswith("older news ignored")
    assert "ignored" in GatewayEvent.objects.get(event_id=later_but_reopening["id"]).outcome
    assert AuditEvent.objects.filter(action__startswith="dispute_").count() == 1  # opened (already won)


def test_an_update_moves_the_dispute_on_and_is_audited(db, stripe_client, webhook_secret):
    payment = stripe_payment()
    dispute = open_dispute(stripe_client, payment)

    stripe_deliver(stripe_client, dispute_event("charge.dispute.updated", dispute | {"status": "under_review"}))

    assert Dispute.objects.get().status == Dispute.Status.UNDER_REVIEW
    updated = AuditEvent.objects.get(action=PaymentAction.DISPUTE_UPDATED)
    assert (updated.actor_label, updated.before["status"], updated.after["status"]) == (
        "Stripe",
        "needs_response",
        "under_review",
    )


def test_the_charge_of_a_dispute_is_named_as_stripe_names_it():
    # The fakes agree with each other on a payment's charge id (the refund builder uses the same).
    from payments.models import Payment
    from tests.fakes.stripe import stripe_refund

    payment = Payment(gateway="stripe", gateway_id="pi_3Same000001", currency="USD", amount=100)
    assert stripe_refund("re_1", payment, status="succeeded", amount=1)["charge"] == stripe_charge_id(payment)


def test_deliveries_of_a_dispute_at_the_same_moment_record_it_once(webhook_secret):
    payment = stripe_payment(amount=10000, credits=500)
    dispute = stripe_dispute("du_3Together", payment)
    opened = dispute_event("charge.dispute.created", dispute)
    # And the same news under other event ids, as Stripe sends it (funds withdrawn at the same time).
    others = [dispute_event("charge.dispute.funds_withdrawn", dispute) for _ in range(2)]

    responses = run_together(lambda i: stripe_deliver(Client(), opened if i < 4 else others[i - 4]), 6)

    assert [r.status_code for r in responses] == [200] * 6, responses
    assert Dispute.objects.get().gateway_dispute_id == "du_3Together"
    assert AuditEvent.objects.filter(action=PaymentAction.DISPUTE_OPENED).count() == 1
    assert GatewayEvent.objects.count() == 3
    books_verified()
