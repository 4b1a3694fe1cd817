"""refunds.services.refund_execute on the sandbox gateway: types, reasons, refusals, outcomes.

These run with real commits (`transaction=True`): the service refuses to call the gateway inside
a transaction, which is the point of its phases.
"""

import pytest
from django.contrib.contenttypes.models import ContentType

from accounts.models import User
from notifications.models import SmsMessage
from payments.gateway import GatewayRefund
from payments.models import LedgerEntry, Payment
from payments.selectors import ledger_verify
from refunds.models import Refund
from refunds.services import RefundRefused, payment_refundable, refund_record_answer
from tests.factories import CustomerFactory, LedgerEntryFactory
from tests.helpers import refund_request

pytestmark = pytest.mark.django_db(transaction=True)


def sms_about(refund) -> list[SmsMessage]:
    return list(SmsMessage.objects.filter(about_type=ContentType.objects.get_for_model(Refund), about_id=refund.pk))


def assert_invariants():
    assert ledger_verify().mismatch_count == 0
    for payment in Payment.objects.all():
        assert payment_refundable(payment=payment).amount >= 0
        assert 0 <= payment.amount_refunded <= payment.amount


def test_a_partial_refund_moves_money_credits_ledger_and_queues_one_sms(make_payment, finance):
    payment = make_payment()
    refund = refund_request(payment, actor=finance, amount=2500, credits_to_remove=125, note="Late delivery")
    payment.refresh_from_db()
    customer = User.objects.get(pk=payment.user_id)
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.gateway_refund_id.startswith("re_sandbox_succeed_")
    assert (payment.amount_refunded, payment.status) == (2500, Payment.Status.PARTIALLY_REFUNDED)
    assert customer.credits == 500 - 125
    entry = LedgerEntry.objects.get(refund_id=refund.pk)
    assert (entry.kind, entry.credits_delta, entry.money_delta, entry.currency, entry.actor) == (
        LedgerEntry.Kind.REFUND,
        -125,
        -2500,
        "USD",
        finance,
    )
    messages = sms_about(refund)
    assert len(messages) == 1
    assert messages[0].status == SmsMessage.Status.QUEUED
    assert "$25.00" in messages[0].body
    assert_invariants()


def test_a_full_refund_takes_whatever_remains_and_then_nothing_remains(make_payment, finance):
    payment = make_payment()
    refund_request(payment, actor=finance, amount=4000)
    refund = refund_request(payment, actor=finance, type=Refund.Type.FULL, amount=None)
    payment.refresh_from_db()
    assert refund.amount == 6000
    assert (payment.amount_refunded, payment.status) == (10000, Payment.Status.REFUNDED)
    with pytest.raises(RefundRefused, match="Nothing remains to refund"):
        refund_request(payment, actor=finance, type=Refund.Type.FULL, amount=None)
    assert Refund.objects.count() == 2
    assert_invariants()


def test_account_credits_move_no_money_and_never_call_the_gateway(make_payment, finance):
    # This payment's gateway declines every refund: a success proves the gateway was not asked.
    payment = make_payment(gateway_id="pi_sandbox_decline_credits")
    refund = refund_request(payment, actor=finance, type=Refund.Type.CREDITS, amount=2000, credits_to_remove=50)
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.gateway_refund_id == ""
    assert refund.credits_delta == 100  # $20.00 of a $100.00 / 500-credit payment
    entry = LedgerEntry.objects.get(refund_id=refund.pk)
    assert (entry.credits_delta, entry.money_delta, entry.currency) == (100, None, "")
    assert User.objects.get(pk=payment.user_id).credits == 600
    assert "100 credits" in sms_about(refund)[0].body
    assert_invariants()


def test_credits_removed_are_capped_at_the_balance_when_recorded(make_payment, finance):
    payment = make_payment()
    LedgerEntryFactory(user=payment.user, kind=LedgerEntry.Kind.USAGE, credits_delta=-470)  # 30 left
    refund = refund_request(payment, actor=finance, amount=5000, credits_to_remove=250)
    assert refund.credits_delta == -30
    assert User.objects.get(pk=payment.user_id).credits == 0
    assert_invariants()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"amount": 10001}, "exceeds the remaining amount: at most \\$100.00"),
        ({"amount": 0}, "greater than zero"),
        ({"amount": -100}, "greater than zero"),
        ({"amount": None}, "greater than zero"),
        ({"reason": Refund.Reason.OTHER, "note": "   "}, "Say why in the note"),
        ({"credits_to_remove": -1}, "cannot be negative"),
        ({"expected_reserved": 500}, "Another refund on this payment was made"),
    ],
)
def test_refusals_write_nothing(make_payment, finance, overrides, message):
    payment = make_payment()
    with pytest.raises(RefundRefused, match=message):
        refund_request(payment, actor=finance, **overrides)
    assert not Refund.objects.exists()
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).exists()
    assert not SmsMessage.objects.exists()
    assert User.objects.get(pk=payment.user_id).credits == 500


def test_other_with_a_note_and_stripes_reasons_are_accepted(make_payment, finance):
    payment = make_payment()
    for reason in Refund.Reason:
        refund_request(payment, actor=finance, amount=1000, reason=reason, note="Because" if reason == "other" else "")
    assert Refund.objects.filter(status=Refund.Status.SUCCEEDED).count() == 4


def test_account_credits_need_a_payment_that_bought_credits(make_payment, finance):
    payment = make_payment(credits_bought=0)
    with pytest.raises(RefundRefused, match="bought no credits"):
        refund_request(payment, actor=finance, type=Refund.Type.CREDITS, amount=1000)
    assert not Refund.objects.exists()


def test_a_decline_fails_the_refund_releases_the_reservation_and_writes_no_ledger(make_payment, finance):
    payment = make_payment(gateway_id="pi_sandbox_decline_x")
    refund = refund_request(payment, actor=finance, amount=3000, credits_to_remove=100)
    assert refund.status == Refund.Status.FAILED
    assert refund.failure_reason == "The customer's bank declined the refund."
    assert payment_refundable(payment=payment).amount == 10000
    assert not LedgerEntry.objects.filter(refund_id=refund.pk).exists()
    assert sms_about(refund) == []
    assert User.objects.get(pk=payment.user_id).credits == 500
    payment.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED
    assert_invariants()


def test_a_pending_answer_keeps_the_amount_reserved_until_it_settles(make_payment, finance):
    payment = make_payment(gateway_id="pi_sandbox_pending_x")
    refund = refund_request(payment, actor=finance, amount=7000)
    assert refund.status == Refund.Status.PENDING
    assert refund.gateway_refund_id.startswith("re_sandbox_pending_")
    assert payment_refundable(payment=payment).amount == 3000
    with pytest.raises(RefundRefused, match=r"at most \$30\.00"):
        refund_request(payment, actor=finance, amount=3001)
    assert not LedgerEntry.objects.filter(refund_id=refund.pk).exists()
    assert sms_about(refund) == []

    settled = refund_record_answer(refund=refund, answer=GatewayRefund(id=refund.gateway_refund_id, status="succeeded"))
    again = refund_record_answer(refund=refund, answer=GatewayRefund(id=refund.gateway_refund_id, status="failed"))
    assert settled.status == again.status == Refund.Status.SUCCEEDED
    assert LedgerEntry.objects.filter(refund_id=refund.pk).count() == 1
    assert len(sms_about(refund)) == 1
    payment.refresh_from_db()
    assert payment.amount_refunded == 7000
    assert_invariants()


def test_a_pending_refund_that_fails_later_releases_its_reservation(make_payment, finance):
    payment = make_payment(gateway_id="pi_sandbox_faillater_x")
    refund = refund_request(payment, actor=finance, amount=7000)
    failed = refund_record_answer(
        refund=refund, answer=GatewayRefund(id=refund.gateway_refund_id, status="failed", failure_reason="Declined")
    )
    assert failed.status == Refund.Status.FAILED
    assert payment_refundable(payment=payment).amount == 10000
    assert not LedgerEntry.objects.filter(refund_id=refund.pk).exists()
    assert_invariants()


def test_no_answer_leaves_it_pending_and_the_same_key_returns_the_same_refund(make_payment, finance):
    payment = make_payment(gateway_id="pi_sandbox_timeout_x")
    refund = refund_request(payment, actor=finance, amount=1000, idempotency_key="timeout-key-0000000001")
    assert (refund.status, refund.gateway_refund_id) == (Refund.Status.PENDING, "")
    again = refund_request(payment, actor=finance, amount=1000, idempotency_key="timeout-key-0000000001")
    assert again.pk == refund.pk
    assert Refund.objects.count() == 1
    assert payment_refundable(payment=payment).amount == 9000


def test_the_same_key_twice_is_one_refund(make_payment, finance):
    payment = make_payment()
    first = refund_request(payment, actor=finance, amount=1000, idempotency_key="double-click-00000001")
    second = refund_request(payment, actor=finance, amount=1000, idempotency_key="double-click-00000001")
    assert first.pk == second.pk
    assert second.status == Refund.Status.SUCCEEDED
    assert Refund.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.REFUND).count() == 1
    assert SmsMessage.objects.count() == 1


def test_a_key_used_for_another_payment_is_refused(make_payment, finance):
    first, other = make_payment(), make_payment()
    refund_request(first, actor=finance, idempotency_key="shared-key-0000000001")
    with pytest.raises(RefundRefused, match="already used for another payment"):
        refund_request(other, actor=finance, idempotency_key="shared-key-0000000001")
    assert Refund.objects.count() == 1


def test_without_notification_no_sms_is_written(make_payment, finance):
    refund = refund_request(make_payment(), actor=finance, notify_customer=False)
    assert refund.status == Refund.Status.SUCCEEDED
    assert sms_about(refund) == []


def test_a_customer_without_a_phone_gets_a_failed_message_that_says_why(make_payment, finance):
    payment = make_payment(user=CustomerFactory(phone=""))
    refund = refund_request(payment, actor=finance)
    [message] = sms_about(refund)
    assert message.status == SmsMessage.Status.FAILED
    assert message.last_error == "No phone number"


def test_credits_removed_with_a_card_refund_are_at_most_what_the_payment_bought(make_payment, finance):
    payment = make_payment()  # bought 500
    with pytest.raises(RefundRefused, match="At most 500 credits"):
        refund_request(payment, actor=finance, amount=1, credits_to_remove=501)
    assert not Refund.objects.exists()


def test_a_gateway_refund_past_the_payments_amount_is_recorded_and_the_total_capped(make_payment, finance):
    from refunds.services import refund_external_record

    payment = make_payment()
    refund_request(payment, actor=finance, type=Refund.Type.CREDITS, amount=10000)  # the gateway never saw this one
    external = refund_external_record(
        payment=Payment.objects.get(pk=payment.pk),
        answer=GatewayRefund(id="re_dashboard_1", status="succeeded"),
        amount=10000,
    )
    payment.refresh_from_db()
    assert external.status == Refund.Status.SUCCEEDED
    assert payment.amount_refunded == payment.amount
    assert LedgerEntry.objects.get(refund_id=external.pk).money_delta == -10000
    assert ledger_verify().mismatch_count == 0
