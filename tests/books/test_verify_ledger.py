"""`manage.py verify_ledger`: every invariant of the books, checked over every row.

Each inconsistency is planted directly in the database, past the services (as a bad migration, a
manual fix in psql or a bug would), and the check must name it with its rule and exit non-zero.
"""

import uuid

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction

from accounts.models import User
from accounts.roles import FINANCE
from books.checks import books_verify
from notifications.models import SmsMessage
from payments.models import CreditChangeRequest, LedgerEntry, Payment
from payments.services import credit_change_approve, credits_adjust, ledger_append
from refunds.models import Refund
from refunds.services import refund_execute
from tests.factories import CustomerFactory, PaymentFactory, StaffFactory, purchase_record

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def finance(db):
    return StaffFactory(first_name="Fran", last_name="Finance", roles=[FINANCE])


@pytest.fixture
def paid(db):
    """A customer's $100.00 payment for 500 credits, in the ledger."""
    payment = PaymentFactory(user=CustomerFactory(phone="+12025550143"))
    purchase_record(payment)
    return payment


def refund(payment: Payment, actor: User, *, amount: int = 2500, type=Refund.Type.PARTIAL) -> Refund:
    """A refund through the service, on the sandbox: succeeded, in the ledger, the customer told."""
    done = refund_execute(
        payment=payment,
        type=type,
        amount=amount,
        reason=Refund.Reason.REQUESTED_BY_CUSTOMER,
        note="",
        actor=actor,
        idempotency_key=uuid.uuid4().hex,
        credits_to_remove=100,
    )
    assert done.status == Refund.Status.SUCCEEDED
    return done


def offenders(rule: str) -> list[tuple[str, int]]:
    report = books_verify()
    return [(offender.object, offender.id) for offender in report.offenders if offender.rule == rule]


def test_books_made_by_the_services_hold(paid, finance, staff, capsys):
    refund(paid, finance)
    refund(paid, finance, type=Refund.Type.CREDITS, amount=1000)
    credits_adjust(
        user=paid.user, new_balance=7, expected_balance=User.objects.get(pk=paid.user_id).credits, actor=staff
    )
    CustomerFactory()  # no history, balance 0: fine

    call_command("verify_ledger")

    output = capsys.readouterr().out
    assert "every rule holds" in output
    assert "2 refunds" in output and "1 payments" in output
    for rule in ("credits", "payment totals", "refund entries", "messages", "audit"):
        assert f"{rule}: ok" in output


def test_it_names_a_balance_the_ledger_does_not_explain(paid, staff, capsys):
    drifted = CustomerFactory()
    User.objects.filter(pk=drifted.pk).update(credits=99)
    User.objects.filter(pk=paid.user_id).update(credits=501)

    with pytest.raises(CommandError, match="2 offenders"):
        call_command("verify_ledger")

    output = capsys.readouterr().out
    assert "credits: 2 offenders" in output
    assert f"credits: user {drifted.pk}: balance 99, ledger sum 0, latest balance_after none" in output
    assert f"credits: user {paid.user_id}: balance 501, ledger sum 500, latest balance_after 500" in output


def test_it_names_a_refunded_amount_no_refund_explains(paid):
    Payment.objects.filter(pk=paid.pk).update(amount_refunded=2500, status="partially_refunded")
    assert offenders("payment totals") == [("payment", paid.pk)]


def test_it_names_a_status_that_does_not_follow_the_refunded_amount(paid):
    Payment.objects.filter(pk=paid.pk).update(status="refunded")
    assert offenders("payment totals") == [("payment", paid.pk)]


def test_it_names_refunds_reserving_more_than_was_paid(paid, finance):
    Refund.objects.create(
        payment=paid, type="partial", reason="duplicate", amount=10001, currency="USD", idempotency_key="k" * 20
    )
    assert offenders("payment totals") == [("payment", paid.pk)]


def test_it_names_a_succeeded_refund_without_its_ledger_entry(paid, finance):
    Payment.objects.filter(pk=paid.pk).update(amount_refunded=2500, status="partially_refunded")
    planted = Refund.objects.create(
        payment=paid, type="credits", reason="duplicate", amount=2500, currency="USD", idempotency_key="k" * 20,
        status="succeeded", notify_customer=False,
    )  # fmt: skip
    assert offenders("refund entries") == [("refund", planted.pk)]


def test_it_names_a_ledger_entry_for_a_refund_that_never_succeeded(paid, finance):
    done = refund(paid, finance)
    Refund.objects.filter(pk=done.pk).update(status="pending")
    assert ("refund", done.pk) in offenders("refund entries")


def test_it_names_a_refund_entry_whose_credits_disagree_with_the_refund(paid, finance):
    done = refund(paid, finance)
    Refund.objects.filter(pk=done.pk).update(credits_delta=-99)
    assert offenders("refund entries") == [("refund", done.pk)]


def test_it_names_a_succeeded_refund_whose_customer_was_not_told(paid, finance):
    done = refund(paid, finance)
    SmsMessage.objects.all().delete()
    assert offenders("messages") == [("refund", done.pk)]


def test_it_names_a_refund_told_twice(paid, finance):
    done = refund(paid, finance)
    message = SmsMessage.objects.get()
    message.pk = None
    message.save()
    assert offenders("messages") == [("refund", done.pk)]


def test_it_names_a_staff_members_ledger_entry_without_its_audit_event(paid, staff):
    with transaction.atomic():
        customer = User.objects.select_for_update().get(pk=paid.user_id)
        entry = ledger_append(locked_user=customer, kind=LedgerEntry.Kind.ADJUSTMENT, credits_delta=5, actor=staff)
    assert offenders("audit") == [("ledger entry", entry.pk)]
    # The entries made through the service have theirs.
    credits_adjust(user=paid.user, new_balance=9, expected_balance=505, actor=staff)
    assert offenders("audit") == [("ledger entry", entry.pk)]


def test_seed_demo_data_passes(capsys):
    call_command("seed_demo", users=300)
    call_command("verify_ledger")
    output = capsys.readouterr().out
    assert "302 users" in output and "every rule holds" in output  # 300 customers, Adam and Fran


def test_books_hold_after_a_large_credit_change_approved_by_a_second_person(paid, finance):
    requester = StaffFactory(roles=[FINANCE])
    request = credits_adjust(user=paid.user, new_balance=5000, expected_balance=500, actor=requester)
    assert isinstance(request, CreditChangeRequest) and User.objects.get(pk=paid.user_id).credits == 500
    credit_change_approve(change=request, approver=finance)
    assert User.objects.get(pk=paid.user_id).credits == 5000
    assert books_verify().offender_count == 0
