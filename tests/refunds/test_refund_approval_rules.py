"""The cumulative approval rules (refunds.services.approval_rules): a refund waits for a second
person when it, plus what was refunded in the window by the same person or anyone, on the same
payment or customer, passes REFUND_APPROVAL_THRESHOLD ($500.00); the service says which rule."""

from datetime import timedelta

import pytest

from accounts.roles import FINANCE
from refunds.models import Refund
from refunds.services.approval_rules import refund_approval_judge
from tests.concurrency import run_together
from tests.factories import PaymentFactory, RefundFactory, StaffFactory, purchase_record
from tests.helpers import refund_request

pytestmark = pytest.mark.django_db(transaction=True)

WAITS, GOES = Refund.Status.AWAITING_APPROVAL, Refund.Status.PENDING


@pytest.fixture
def colleague(db):
    return StaffFactory(first_name="Cole", last_name="League", roles=[FINANCE], passwordless=True)


def test_four_500_refunds_of_one_2000_payment_need_approval_from_the_second_onward(make_payment, finance):
    payment = make_payment(amount=200000, credits_bought=2000)
    refunds = [refund_request(payment, actor=finance, amount=50000) for _ in range(4)]
    assert [r.status for r in refunds] == [Refund.Status.SUCCEEDED, WAITS, WAITS, WAITS]
    assert [r.approval_rule for r in refunds] == ["", "staff_payment", "staff_payment", "staff_payment"]
    judgement = refund_approval_judge(payment=payment, actor=finance, amount=100)
    assert judgement.message() == (
        "This refund brings your refunds on this payment today to $2,001.00, over $500.00: "
        "a second person must approve."
    )


def test_splitting_crosses_the_threshold_exactly_when_the_sum_does(make_payment, finance):
    payment = make_payment(amount=200000)
    assert refund_request(payment, actor=finance, amount=30000).status == Refund.Status.SUCCEEDED
    assert refund_request(payment, actor=finance, amount=20000).status == Refund.Status.SUCCEEDED  # $500.00
    last = refund_request(payment, actor=finance, amount=1)  # $500.01
    assert (last.status, last.approval_rule) == (WAITS, "staff_payment")


def test_a_single_refund_over_the_threshold_names_the_refund_rule(make_payment, finance):
    refund = refund_request(make_payment(amount=200000), actor=finance, amount=50001)
    assert (refund.status, refund.approval_rule) == (WAITS, "refund")


def test_another_staff_member_on_the_same_payment_is_judged_on_anyones_total(make_payment, finance, colleague):
    payment = make_payment(amount=200000)
    refund_request(payment, actor=finance, amount=40000)
    second = refund_request(payment, actor=colleague, amount=20000)
    assert (second.status, second.approval_rule) == (WAITS, "any_payment")


def test_the_same_customers_other_payments_count(make_payment, finance, colleague):
    first = make_payment(amount=200000)
    second = purchase_record(PaymentFactory(user=first.user, amount=200000))
    refund_request(first, actor=finance, amount=40000)
    mine = refund_request(second, actor=finance, amount=20000)
    assert (mine.status, mine.approval_rule) == (WAITS, "staff_customer")
    theirs = refund_request(second, actor=colleague, amount=100)
    assert (theirs.status, theirs.approval_rule) == (WAITS, "any_customer")
    judgement = refund_approval_judge(payment=second, actor=colleague, amount=100)
    assert judgement.message() == (
        "This refund brings today's refunds on this customer to $602.00, over $500.00: a second person must approve."
    )


def test_refunds_outside_the_window_rejected_ones_and_other_currencies_do_not_count(make_payment, finance, settings):
    settings.REFUND_APPROVAL_WINDOW_HOURS = 2
    payment = make_payment(amount=200000)
    RefundFactory(payment=payment, requested_by=finance, amount=45000, status="succeeded", age=timedelta(hours=3))
    RefundFactory(payment=payment, requested_by=finance, amount=45000, status="rejected")
    RefundFactory(
        payment=purchase_record(PaymentFactory(user=payment.user, currency="EUR", amount=200000)),
        requested_by=finance,
        amount=45000,
        status="succeeded",
    )
    assert refund_request(payment, actor=finance, amount=50000).status == Refund.Status.SUCCEEDED


def test_two_tabs_of_one_staff_member_at_once_cannot_both_pass_under_the_threshold(make_payment, finance):
    payment = make_payment(amount=200000)

    def part(index: int) -> Refund:
        return refund_request(payment, actor=finance, amount=30000)

    results = run_together(part, 2)
    assert sorted(r.status for r in results) == sorted([Refund.Status.SUCCEEDED, WAITS]), results


def test_two_staff_members_on_two_payments_of_one_customer_at_once_cannot_both_pass(make_payment, finance, colleague):
    first = make_payment(amount=200000)
    second = purchase_record(PaymentFactory(user=first.user, amount=200000))
    work = [(first, finance), (second, colleague)]

    def part(index: int) -> Refund:
        payment, actor = work[index]
        return refund_request(payment, actor=actor, amount=30000)

    results = run_together(part, 2)
    assert sorted(r.status for r in results) == sorted([Refund.Status.SUCCEEDED, WAITS]), results
    assert [r.approval_rule for r in results if r.status == WAITS] == ["any_customer"]
