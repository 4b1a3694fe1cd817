"""refund_execute under real concurrency: threads, each with its own PostgreSQL connection."""

import threading

import pytest

from payments import gateway as gateway_module
from payments.models import LedgerEntry
from payments.selectors import ledger_verify
from refunds.models import Refund
from refunds.services import RefundRefused
from tests.concurrency import run_together
from tests.helpers import refund_request

pytestmark = pytest.mark.django_db(transaction=True)


def test_thirty_clients_refunding_thirty_dollars_of_a_hundred_let_exactly_three_through(make_payment, finance):
    payment = make_payment(amount=10000)

    def refund(index: int) -> Refund:
        return refund_request(payment, actor=finance, amount=3000, idempotency_key=f"concurrent-{index:04d}-key-abcdef")

    results = run_together(refund, 30)
    succeeded = [r for r in results if isinstance(r, Refund) and r.status == Refund.Status.SUCCEEDED]
    refused = [r for r in results if isinstance(r, RefundRefused)]
    assert len(succeeded) == 3, results
    assert len(refused) == 27
    assert all("exceeds the remaining amount" in str(error) for error in refused)
    payment.refresh_from_db()
    assert payment.amount_refunded == 9000 <= payment.amount
    assert Refund.objects.count() == 3
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count() == 3
    assert ledger_verify().mismatch_count == 0


def test_ten_submits_with_one_key_make_one_gateway_call_and_show_one_result(make_payment, finance, monkeypatch):
    payment = make_payment()
    calls: list[str] = []
    calls_lock = threading.Lock()
    sandbox = gateway_module.SandboxGateway()
    original = sandbox.refund

    def counting_refund(**kwargs):
        with calls_lock:
            calls.append(kwargs["idempotency_key"])
        return original(**kwargs)

    monkeypatch.setattr(sandbox, "refund", counting_refund)
    monkeypatch.setattr("refunds.services.request.gateway_for", lambda name: sandbox)

    def submit(index: int) -> Refund:
        return refund_request(
            payment,
            actor=finance,
            amount=2500,
            reason=Refund.Reason.DUPLICATE,
            idempotency_key="one-form-submitted-ten-times",
        )

    results = run_together(submit, 10)
    assert all(isinstance(r, Refund) for r in results), results
    assert len(calls) == 1
    assert {r.pk for r in results} == {results[0].pk}
    assert {r.status for r in results} == {Refund.Status.SUCCEEDED}
    assert Refund.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count() == 1
    payment.refresh_from_db()
    assert payment.amount_refunded == 2500
    assert ledger_verify().mismatch_count == 0


def test_refunds_and_credit_changes_on_the_same_customer_do_not_deadlock(make_payment, finance):
    from accounts.models import User
    from payments.services import CreditsConflict, CreditsRefused, credits_adjust

    payment = make_payment(amount=10000)

    def work(index: int):
        if index % 2:
            return refund_request(
                payment,
                actor=finance,
                amount=500,
                idempotency_key=f"mixed-{index:04d}-key-abcdef",
                credits_to_remove=10,
            )
        seen = User.objects.get(pk=payment.user_id).credits
        try:
            return credits_adjust(user=payment.user, new_balance=seen + 5, expected_balance=seen, actor=finance)
        except (CreditsConflict, CreditsRefused) as error:
            return error

    results = run_together(work, 16)
    assert not [r for r in results if isinstance(r, Exception) and not isinstance(r, CreditsConflict)], results
    assert Refund.objects.filter(status=Refund.Status.SUCCEEDED).count() == 8
    assert ledger_verify().mismatch_count == 0
