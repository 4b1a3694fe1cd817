"""The drift report (`books.drift.gateway_drift_check`): the portal's refunds against the gateway's
own list, on real PostgreSQL, with the real Stripe SDK against the fake Stripe and with the sandbox.

Each exception is planted where it would arise: at the fake Stripe (a refund made in its Dashboard,
an amount or a status that moved there) or in the database by hand (a refund that never reached the
gateway); the report must name each with its kind, and write nothing but the adopted refund.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.roles import FINANCE
from audit.models import AuditEvent
from books.checks import books_verify
from books.drift import gateway_drift_check
from books.models import DriftCheck
from notifications.models import SmsMessage
from payments.models import LedgerEntry, Payment
from refunds.models import Refund
from refunds.services import refunds_reconcile
from tests.factories import PaymentFactory, StaffFactory, purchase_record, stripe_payment
from tests.fakes.stripe import stripe_refund
from tests.helpers import refund_request

pytestmark = pytest.mark.django_db(transaction=True)

Kind = DriftCheck.Kind


@pytest.fixture
def refunder():
    return StaffFactory(roles=[FINANCE], passwordless=True)


def drift():
    """The report over the last day, to a minute from now."""
    now = timezone.now()
    return gateway_drift_check(since=now - timedelta(days=1), until=now + timedelta(minutes=1))


def kinds(report) -> list[tuple[str, str, int | None]]:
    return sorted((e.kind, e.gateway_refund_id, e.payment_id) for e in report.exceptions)


def written() -> dict:
    """Everything the report could write, as it stands."""
    return {
        "refunds": sorted(Refund.objects.values_list("pk", "status", "amount", "gateway_refund_id")),
        "payments": sorted(Payment.objects.values_list("pk", "amount_refunded", "status")),
        "ledger": LedgerEntry.objects.count(),
        "audit": AuditEvent.objects.count(),
        "messages": SmsMessage.objects.count(),
    }


def test_it_names_each_kind_of_drift_and_writes_only_the_adopted_refund(stripe_api, refunder):
    agreeing, dashboard, missing, amount, status = (stripe_payment() for _ in range(5))
    ok = refund_request(agreeing, actor=refunder)
    gone = refund_request(missing, actor=refunder)
    moved = refund_request(amount, actor=refunder)
    failed = refund_request(status, actor=refunder)
    assert {r.status for r in (ok, gone, moved, failed)} == {Refund.Status.SUCCEEDED}
    # At Stripe: one made in its Dashboard; one the portal recorded that Stripe does not have; one
    # whose amount, and one whose status, moved there.
    stripe_api.refunds["re_3Dashboard"] = stripe_refund("re_3Dashboard", dashboard, status="succeeded", amount=4000)
    del stripe_api.refunds[gone.gateway_refund_id]
    stripe_api.refunds[moved.gateway_refund_id]["amount"] = 2000
    stripe_api.refunds[failed.gateway_refund_id] |= {"status": "failed", "failure_reason": "expired_or_canceled_card"}
    # Passed over, as the webhooks pass them over: a stranger's refund, and one that moved no money.
    stranger = Payment(gateway_id="pi_3NotOurs", currency="USD")
    stripe_api.refunds["re_3Stranger"] = stripe_refund("re_3Stranger", stranger, status="succeeded", amount=500)
    stripe_api.refunds["re_3Failed"] = stripe_refund("re_3Failed", dashboard, status="failed", amount=700)
    before = written()

    report = drift()

    adopted = Refund.objects.get(gateway_refund_id="re_3Dashboard")
    assert kinds(report) == sorted(
        [
            (Kind.ADOPTED, "re_3Dashboard", dashboard.pk),
            (Kind.MISSING_AT_GATEWAY, gone.gateway_refund_id, missing.pk),
            (Kind.AMOUNT_DIFFERS, moved.gateway_refund_id, amount.pk),
            (Kind.STATUS_DIFFERS, failed.gateway_refund_id, status.pk),
        ]
    )
    by_kind = {e.kind: e for e in report.exceptions}
    assert by_kind[Kind.ADOPTED].refund_id == adopted.pk
    assert by_kind[Kind.AMOUNT_DIFFERS].detail == "here $25.00 succeeded, at the gateway $20.00 succeeded"
    assert by_kind[Kind.STATUS_DIFFERS].detail.startswith("here $25.00 succeeded, at the gateway $25.00 failed (")
    assert by_kind[Kind.MISSING_AT_GATEWAY].refund_id == gone.pk
    assert {e.customer_id for e in report.exceptions} == {p.user_id for p in (dashboard, missing, amount, status)}
    assert report.needs_person_count == 3
    assert report.counts == {
        "stripe": {
            "listed": 6,
            "here": 4,  # before the adoption
            "matched": 3,
            "not the portal's": 1,
            "failed at the gateway only": 1,
        }
    }
    # Only the adoption wrote, as its webhook would have: its refund, ledger entry, audit events
    # ("made outside the portal", "executed") and payment total; nothing else moved.
    after = written()
    assert (adopted.source, adopted.status, adopted.amount) == (Refund.Source.EXTERNAL, Refund.Status.SUCCEEDED, 4000)
    assert after["refunds"] == sorted([*before["refunds"], (adopted.pk, "succeeded", 4000, "re_3Dashboard")])
    assert after["payments"] == sorted(
        [row for row in before["payments"] if row[0] != dashboard.pk] + [(dashboard.pk, 4000, "partially_refunded")]
    )
    assert (after["ledger"], after["audit"], after["messages"]) == (
        before["ledger"] + 1,
        before["audit"] + 2,
        before["messages"],
    )
    assert books_verify().offender_count == 0

    # Again: the adopted refund is ours now and agrees; the rest still wait for a person.
    again = drift()
    assert [e.kind for e in again.exceptions] == [Kind.STATUS_DIFFERS, Kind.AMOUNT_DIFFERS, Kind.MISSING_AT_GATEWAY]
    assert written() == after


def test_a_refund_pending_here_that_stripe_settled_is_left_to_reconciliation(stripe_api, refunder):
    payment = stripe_payment()
    stripe_api.refund_status = "pending"
    waiting = refund_request(payment, actor=refunder)
    stripe_api.refunds[waiting.gateway_refund_id]["status"] = "succeeded"
    before = written()

    report = drift()

    (exception,) = report.exceptions
    assert (exception.kind, exception.refund_id, exception.needs_person) == (Kind.UNSETTLED_HERE, waiting.pk, False)
    assert "here $25.00 pending, at the gateway $25.00 succeeded" in exception.detail
    assert written() == before


def test_a_refund_of_ours_whose_answer_was_lost_is_found_by_its_portal_id_not_adopted(stripe_api, refunder):
    payment = stripe_payment()
    stripe_api.refund_status = "pending"
    waiting = refund_request(payment, actor=refunder)
    at_stripe = waiting.gateway_refund_id
    # As if the worker died between Stripe's answer and its record: no gateway id here.
    Refund.objects.filter(pk=waiting.pk).update(gateway_refund_id="")
    stripe_api.refunds[at_stripe]["status"] = "succeeded"
    before = written()

    report = drift()

    (exception,) = report.exceptions
    assert (exception.kind, exception.refund_id, exception.gateway_refund_id) == (
        Kind.UNSETTLED_HERE,
        waiting.pk,
        at_stripe,
    )
    assert exception.detail.endswith("its gateway id is not recorded here yet")
    assert written() == before  # not recorded a second time as a refund made outside the portal


def test_a_gateway_that_does_not_answer_is_reported_and_nothing_called_missing(settings, stripe_api, refunder):
    refund_request(stripe_payment(), actor=refunder)
    settings.STRIPE_SECRET_KEY = ""

    report = drift()

    (exception,) = report.exceptions
    assert (exception.kind, exception.gateway, exception.needs_person) == (Kind.GATEWAY_UNAVAILABLE, "stripe", True)
    assert "STRIPE_SECRET_KEY is unset" in exception.detail


def test_refunds_outside_the_window_are_neither_adopted_nor_missing(stripe_api, refunder):
    payment = stripe_payment()
    done = refund_request(payment, actor=refunder)
    two_days_ago = int((timezone.now() - timedelta(days=2)).timestamp())
    stripe_api.refunds["re_3Old"] = stripe_refund(
        "re_3Old", payment, status="succeeded", amount=100, created=two_days_ago
    )

    now = timezone.now()
    report = gateway_drift_check(since=now - timedelta(days=1), until=now - timedelta(minutes=5))

    assert report.exceptions == []
    assert report.counts["stripe"] == {
        "listed": 0,
        "here": 0,
        "matched": 0,
        "not the portal's": 0,
        "failed at the gateway only": 0,
    }
    assert not Refund.objects.filter(gateway_refund_id="re_3Old").exists()
    # The margin: the gateway was asked for a day more on each side, in whole seconds.
    (listing,) = stripe_api.listings()
    assert int(listing.args["created[lt]"]) > int(now.timestamp()) + 23 * 3600
    assert done.status == Refund.Status.SUCCEEDED


# The sandbox keeps nothing between processes; its list is derived from the portal's own refunds.


def test_the_sandbox_reports_no_drift_on_the_services_own_refunds_and_names_a_hand_made_change(refunder):
    succeeding = purchase_record(PaymentFactory())
    failing_later = purchase_record(PaymentFactory(gateway_id="pi_sandbox_faillater_drift"))
    settling_later = purchase_record(PaymentFactory(gateway_id="pi_sandbox_pending_drift"))
    done = refund_request(succeeding, actor=refunder)
    refund_request(failing_later, actor=refunder)
    refund_request(settling_later, actor=refunder)
    refunds_reconcile(older_than=timedelta(0))  # the two pending ones settle, as the job settles them
    assert sorted(Refund.objects.values_list("status", flat=True)) == ["failed", "succeeded", "succeeded"]

    clean = drift()
    assert clean.exceptions == []
    assert clean.counts["sandbox"]["matched"] == clean.counts["sandbox"]["here"] == 3

    other = refund_request(succeeding, actor=refunder, amount=1000)
    Refund.objects.filter(pk=done.pk).update(status="failed")  # by hand, in psql
    Refund.objects.filter(pk=other.pk).update(gateway_refund_id="re_3NeverAtTheSandbox")

    report = drift()

    assert kinds(report) == sorted(
        [
            (Kind.STATUS_DIFFERS, done.gateway_refund_id, succeeding.pk),
            (Kind.MISSING_AT_GATEWAY, "re_3NeverAtTheSandbox", succeeding.pk),
        ]
    )
    assert Refund.objects.get(pk=done.pk).status == "failed"  # reported, not repaired
