"""Reconciliation: refunds left pending are asked about again at Stripe until they settle: looked up
by id, found by listing the payment's refunds, sent again with the same key while it is young, or
released when a day has passed and Stripe has none of them.

Real commits throughout (the gateway is never called inside a transaction, and the advisory
lock is seen across connections), hence transactional tests.
"""

import threading
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection, connections
from django.db.models import F
from procrastinate.contrib.django import app

from audit.models import AuditEvent
from core.correlation import correlation_scope
from payments.models import LedgerEntry, Payment
from refunds.audit import RefundAction
from refunds.models import Refund
from refunds.services import payment_refundable, refunds_reconcile
from refunds.services.locks import REFUND_LOCKS
from refunds.services.reconcile import RELEASED_REASON
from refunds.tasks import refunds_reconcile as refunds_reconcile_task
from tests.factories import RefundFactory, stripe_payment
from tests.fakes.stripe import stripe_refund
from tests.helpers import assert_books_balance, refund_request, sms_jobs_for

pytestmark = pytest.mark.django_db(transaction=True)

NOW = timedelta(0)
# A refund whose request died between reserving it and asking Stripe (no gateway id), that long ago.
LEFT_BEHIND = timedelta(minutes=10)


@pytest.fixture(autouse=True)
def reconcile_at_once(settings):
    """Refunds left pending are reconciled however young (the command and the job use the setting)."""
    settings.RECONCILE_AFTER_SECONDS = 0


def test_a_refund_whose_answer_timed_out_is_found_by_listing_and_not_sent_again(settings, stripe_api, refunder):
    payment = stripe_payment(amount=10000, credits=500)
    settings.STRIPE_TIMEOUT_SECONDS = 1.0
    stripe_api.faults = ["hold"]  # Stripe makes the refund; its answer comes after the portal stopped waiting

    refund = refund_request(payment, actor=refunder, amount=2500, idempotency_key="form-key-timeout")

    assert (refund.status, refund.gateway_refund_id) == (Refund.Status.PENDING, "")
    assert stripe_api.held.wait(timeout=5)  # the request did reach Stripe
    assert not LedgerEntry.objects.filter(refund_id=refund.pk).exists()
    assert payment_refundable(payment=payment).amount == 7500  # still reserved: it may have happened
    stripe_api.release()
    settings.STRIPE_TIMEOUT_SECONDS = 2.0

    (result,) = refunds_reconcile(older_than=NOW)

    assert (result.refund_id, result.before, result.after) == (refund.pk, "pending", "succeeded")
    assert result.note == "found at the gateway"
    assert len(stripe_api.creates()) == 1  # found, so not sent again
    (listing,) = stripe_api.listings()
    assert listing.args.to_dict() == {"payment_intent": payment.gateway_id, "limit": "100"}
    refund.refresh_from_db()
    assert (refund.status, refund.gateway_refund_id) == (Refund.Status.SUCCEEDED, next(iter(stripe_api.refunds)))
    assert LedgerEntry.objects.filter(refund_id=refund.pk).count() == 1
    assert len(sms_jobs_for(refund)) == 1
    assert_books_balance()


def test_a_refund_that_met_a_500_after_stripe_made_it_is_settled_by_listing_not_by_the_replayed_500(
    stripe_api, refunder
):
    payment = stripe_payment(amount=10000)
    stripe_api.faults = ["500_refunded"]  # made at Stripe; its answer a 500, which Stripe replays for the key

    refund = refund_request(payment, actor=refunder, amount=10000, idempotency_key="form-key-500")

    assert refund.status == Refund.Status.PENDING
    assert len(stripe_api.refunds) == 1

    (result,) = refunds_reconcile(older_than=NOW)

    assert (result.after, result.note) == (Refund.Status.SUCCEEDED, "found at the gateway")
    assert len(stripe_api.creates()) == 1  # a resend would only have met the same 500 again
    payment.refresh_from_db()
    assert (payment.amount_refunded, payment.status) == (10000, Payment.Status.REFUNDED)
    assert LedgerEntry.objects.filter(refund_id=refund.pk).count() == 1
    assert len(sms_jobs_for(refund)) == 1
    assert_books_balance()


def test_a_refund_whose_500_made_nothing_stays_pending_through_the_replays_and_is_released_after_the_key_window(
    stripe_api, refunder
):
    payment = stripe_payment(amount=10000)
    stripe_api.faults = ["500"]  # the endpoint failed and made nothing; Stripe replays its 500 for the key
    refund = refund_request(payment, actor=refunder, amount=4000, idempotency_key="form-key-500-nothing")

    (young,) = refunds_reconcile(older_than=NOW)

    assert (young.after, young.note) == ("pending", "no answer from the gateway")
    (status, _, first_headers), (replayed, _, replay_headers) = stripe_api.create_answers()
    assert (status, replayed, replay_headers["Idempotent-Replayed"]) == (500, 500, "true")
    assert "Idempotent-Replayed" not in first_headers
    assert stripe_api.refunds == {}
    assert payment_refundable(payment=payment).amount == 6000  # still reserved: Stripe has not said

    # A day later: Stripe has forgotten the key, and still has no refund of it.
    Refund.objects.filter(pk=refund.pk).update(created_at=F("created_at") - timedelta(hours=24, minutes=1))
    stripe_api.clock_advance(hours=24, minutes=1)
    (old,) = refunds_reconcile(older_than=NOW)

    assert (old.before, old.after) == ("pending", "failed")
    assert len(stripe_api.creates()) == 2  # not sent again: listed, found nothing, released
    refund.refresh_from_db()
    assert refund.failure_reason == RELEASED_REASON
    assert payment_refundable(payment=payment).amount == 10000
    assert not LedgerEntry.objects.filter(refund_id=refund.pk).exists()
    assert sms_jobs_for(refund) == []
    event = AuditEvent.objects.filter(action=RefundAction.FAILED).get()
    assert (event.actor_label, event.after["status"]) == ("Reconciliation", "failed")
    assert_books_balance()


def test_a_refund_stripe_never_received_is_sent_again_with_the_same_key_while_the_key_is_young(stripe_api):
    refund = RefundFactory(payment=stripe_payment(), age=LEFT_BEHIND)  # the request died before reaching Stripe

    (result,) = refunds_reconcile(older_than=NOW)

    assert result.after == "succeeded"
    (listing,) = stripe_api.listings()  # looked for first
    assert listing.args["payment_intent"] == refund.payment.gateway_id
    (request,) = stripe_api.creates()
    assert request.headers["Idempotency-Key"] == refund.idempotency_key
    assert request.form["metadata[portal_refund_id]"] == str(refund.pk)
    refund.refresh_from_db()
    assert refund.gateway_refund_id == next(iter(stripe_api.refunds))


def test_a_refund_the_list_cannot_be_read_for_is_neither_sent_again_nor_released(stripe_api):
    refund = RefundFactory(payment=stripe_payment(), age=timedelta(hours=30))
    stripe_api.server.expect_oneshot_request("/v1/refunds", method="GET").respond_with_json(
        {"error": {"type": "api_error", "message": "An unknown error occurred"}}, status=500
    )

    (result,) = refunds_reconcile(older_than=NOW)

    assert (result.after, result.note) == ("pending", "no answer from the gateway")
    assert stripe_api.creates() == []
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING


def test_a_refund_pending_at_stripe_is_looked_up_not_sent_again(stripe_api, refunder):
    payment = stripe_payment()
    stripe_api.refund_status = "pending"
    refund = refund_request(payment, actor=refunder, amount=2500, idempotency_key="form-key-slow-bank")
    assert refund.status == Refund.Status.PENDING

    (still,) = refunds_reconcile(older_than=NOW)
    stripe_api.refunds[refund.gateway_refund_id]["status"] = "succeeded"
    (settled,) = refunds_reconcile(older_than=NOW)

    assert (still.changed, settled.changed, settled.after) == (False, True, "succeeded")
    assert len(stripe_api.creates()) == 1
    assert [r.path for r in stripe_api.lookups()] == [f"/v1/refunds/{refund.gateway_refund_id}"] * 2
    assert LedgerEntry.objects.filter(refund_id=refund.pk).count() == 1
    assert_books_balance()


def test_a_refund_stripe_failed_meanwhile_is_failed_and_its_amount_released(stripe_api, refunder):
    payment = stripe_payment(amount=10000)
    stripe_api.refund_status = "pending"
    refund = refund_request(payment, actor=refunder, amount=10000, idempotency_key="form-key-bank-said-no")
    stripe_api.refunds[refund.gateway_refund_id] |= {"status": "failed", "failure_reason": "declined"}

    refunds_reconcile(older_than=NOW)

    refund.refresh_from_db()
    assert (refund.status, refund.failure_reason) == (Refund.Status.FAILED, "The customer's bank declined the refund.")
    assert payment_refundable(payment=payment).amount == 10000
    assert sms_jobs_for(refund) == []
    assert_books_balance()


def test_a_resend_that_stripe_declines_fails_the_refund(stripe_api):
    payment = stripe_payment()
    refund = RefundFactory(payment=payment, age=LEFT_BEHIND)
    stripe_api.faults = ["already_refunded"]

    (result,) = refunds_reconcile(older_than=NOW)

    assert (result.after, result.note) == ("failed", "The payment has already been fully refunded at Stripe.")
    (request,) = stripe_api.creates()
    assert request.headers["Idempotency-Key"] == refund.idempotency_key
    assert request.form["metadata[portal_refund_id]"] == str(refund.pk)
    assert_books_balance()


def test_the_command_prints_what_it_settled_and_a_second_run_changes_nothing(stripe_api):
    payment = stripe_payment()
    refund = RefundFactory(payment=payment, age=LEFT_BEHIND)

    first, second = StringIO(), StringIO()
    call_command("reconcile_refunds", stdout=first)
    call_command("reconcile_refunds", stdout=second)

    assert f"Refund {refund.pk}: pending → succeeded" in first.getvalue()
    assert "Settled 1 refund; 0 still unsettled." in first.getvalue()
    assert second.getvalue().strip() == "Settled 0 refunds; 0 still unsettled."
    assert len(stripe_api.creates()) == 1
    assert LedgerEntry.objects.filter(refund_id=refund.pk).count() == 1
    assert len(sms_jobs_for(refund)) == 1
    assert_books_balance()


def test_the_command_lists_refunds_still_without_an_answer(stripe_api):
    refund = RefundFactory(payment=stripe_payment(), age=LEFT_BEHIND)
    stripe_api.faults = ["503"]

    out = StringIO()
    call_command("reconcile_refunds", stdout=out)

    assert f"Refund {refund.pk}: still pending (no answer from the gateway)" in out.getvalue()
    assert "Settled 0 refunds; 1 still unsettled." in out.getvalue()
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING


def test_refunds_younger_than_reconcile_after_seconds_are_left_to_their_request(settings, stripe_api):
    settings.RECONCILE_AFTER_SECONDS = 300
    young = RefundFactory(payment=stripe_payment(), age=timedelta(seconds=30))

    assert refunds_reconcile() == []

    assert stripe_api.creates() == []
    young.refresh_from_db()
    assert young.status == Refund.Status.PENDING


def test_a_refund_older_than_the_key_window_is_found_by_listing_instead_of_left_to_a_person(stripe_api):
    payment = stripe_payment(amount=10000)
    refund = RefundFactory(payment=payment, age=timedelta(hours=30))
    made = stripe_refund(
        "re_3MadeLongAgo", payment, status="succeeded", amount=2500, metadata={"portal_refund_id": str(refund.pk)}
    )
    other = stripe_refund("re_3SomeoneElses", payment, status="succeeded", amount=2500, metadata={})
    stripe_api.refunds |= {made["id"]: made, other["id"]: other}

    (result,) = refunds_reconcile(older_than=NOW)

    assert (result.after, result.note) == ("succeeded", "found at the gateway")
    assert stripe_api.creates() == []
    refund.refresh_from_db()
    assert refund.gateway_refund_id == "re_3MadeLongAgo"
    assert LedgerEntry.objects.filter(refund_id=refund.pk).count() == 1
    assert_books_balance()


def test_a_refund_older_than_the_key_window_with_none_at_stripe_is_released_not_sent_again(stripe_api):
    # Stripe forgets a key after 24 hours: a resend could be a new refund, a day after anyone decided.
    payment = stripe_payment(amount=10000)
    refund = RefundFactory(payment=payment, age=timedelta(hours=30))

    (result,) = refunds_reconcile(older_than=NOW)

    assert (result.before, result.after, result.note) == ("pending", "failed", RELEASED_REASON)
    assert stripe_api.creates() == []
    assert len(stripe_api.listings()) == 1
    refund.refresh_from_db()
    assert (refund.status, refund.failure_reason) == (Refund.Status.FAILED, RELEASED_REASON)
    assert refund.settled_at is not None
    assert payment_refundable(payment=payment).amount == 10000


def test_a_refund_in_the_last_hour_of_its_key_with_none_at_stripe_waits_unsent(stripe_api):
    refund = RefundFactory(payment=stripe_payment(), age=timedelta(hours=23, minutes=30))

    (result,) = refunds_reconcile(older_than=NOW)

    assert result.after == "pending"
    assert "not sent again" in result.note
    assert stripe_api.creates() == []
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING


def test_a_refund_of_ours_at_stripe_with_another_amount_is_left_for_a_person(stripe_api):
    payment = stripe_payment(amount=10000)
    refund = RefundFactory(payment=payment, age=LEFT_BEHIND, amount=2500)
    odd = stripe_refund(
        "re_3Odd", payment, status="succeeded", amount=2400, metadata={"portal_refund_id": str(refund.pk)}
    )
    stripe_api.refunds[odd["id"]] = odd

    (result,) = refunds_reconcile(older_than=NOW)

    assert result.after == "pending"
    assert "re_3Odd" in result.note
    assert stripe_api.creates() == []
    refund.refresh_from_db()
    assert (refund.status, refund.gateway_refund_id) == (Refund.Status.PENDING, "")


def test_an_account_credits_refund_left_pending_is_completed_without_the_gateway(stripe_api):
    payment = stripe_payment(amount=10000, credits=500)
    RefundFactory(payment=payment, age=LEFT_BEHIND, amount=2000, type=Refund.Type.CREDITS, credits_delta=100)

    (result,) = refunds_reconcile(older_than=NOW)

    assert result.after == "succeeded"
    assert stripe_api.server.log == []
    payment.user.refresh_from_db()
    assert payment.user.credits == 600
    assert_books_balance()


def test_a_refund_claimed_by_another_session_is_skipped(stripe_api):
    refund = RefundFactory(payment=stripe_payment(), age=LEFT_BEHIND)
    claimed, done = threading.Event(), threading.Event()

    def hold_the_refund_lock() -> None:
        # As refund_execute holds it while its request is at the gateway.
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [REFUND_LOCKS, refund.pk])
            claimed.set()
            done.wait(timeout=10)
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [REFUND_LOCKS, refund.pk])
        connections["default"].close()

    holder = threading.Thread(target=hold_the_refund_lock)
    holder.start()
    try:
        assert claimed.wait(timeout=10)
        (result,) = refunds_reconcile(older_than=NOW)
    finally:
        done.set()
        holder.join()

    assert (result.after, result.note) == ("pending", "being worked on elsewhere; skipped")
    assert stripe_api.creates() == []


def test_two_reconcilers_at_once_ask_stripe_once(settings, stripe_api):
    refund = RefundFactory(payment=stripe_payment(), age=LEFT_BEHIND)
    stripe_api.faults = ["hold"]
    first_results: list = []

    def first_worker() -> None:
        first_results.extend(refunds_reconcile(older_than=NOW))
        connection.close()

    worker = threading.Thread(target=first_worker)
    worker.start()
    try:
        assert stripe_api.held.wait(timeout=10)  # the first worker's request is at Stripe, lock held
        (second,) = refunds_reconcile(older_than=NOW)
    finally:
        stripe_api.release()
        worker.join()

    assert second.note == "being worked on elsewhere; skipped"
    assert [(r.refund_id, r.after) for r in first_results] == [(refund.pk, "succeeded")]
    assert len(stripe_api.creates()) == 1
    assert LedgerEntry.objects.filter(refund_id=refund.pk).count() == 1
    assert_books_balance()


def test_it_refuses_to_run_inside_a_transaction(stripe_api):
    from django.db import transaction

    RefundFactory(payment=stripe_payment(), age=LEFT_BEHIND)

    with pytest.raises(RuntimeError), transaction.atomic():
        refunds_reconcile(older_than=NOW)

    assert stripe_api.creates() == []


def test_the_worker_runs_reconciliation_every_five_minutes(stripe_api):
    refund = RefundFactory(payment=stripe_payment(), age=LEFT_BEHIND)
    periodic = [p for p in app.periodic_registry.periodic_tasks.values() if p.task.name == "refunds.reconcile"]

    refunds_reconcile_task(timestamp=0)  # what the worker calls at each scheduled time

    assert [p.cron for p in periodic] == ["*/5 * * * *"]
    assert periodic[0].task.queueing_lock == "refunds_reconcile"
    refund.refresh_from_db()
    assert refund.status == Refund.Status.SUCCEEDED
    assert_books_balance()


def test_a_refund_sent_again_carries_the_request_id_its_first_call_had(stripe_api):
    # Stripe compares every parameter of a reused key: the job's own request id would be refused.
    traced = RefundFactory(payment=stripe_payment(), age=LEFT_BEHIND, correlation_id="req-Original-01")
    untraced = RefundFactory(payment=stripe_payment(), age=LEFT_BEHIND)  # asked before ids were kept

    with correlation_scope("job-Reconcile-99"):
        results = refunds_reconcile(older_than=NOW)

    assert sorted(result.after for result in results) == ["succeeded", "succeeded"]
    sent = {request.headers["Idempotency-Key"]: request.form for request in stripe_api.creates()}
    assert sent[traced.idempotency_key]["metadata[portal_request_id]"] == "req-Original-01"
    assert "metadata[portal_request_id]" not in sent[untraced.idempotency_key]
