"""Four-eyes on large credit changes: requested, approved or rejected by another person, applied
at approval time only if the balance did not move."""

import pytest
from django.core.exceptions import PermissionDenied

from accounts.models import User
from audit.models import AuditEvent
from books.checks import books_verify
from payments.audit import PaymentAction
from payments.models import CreditChangeRequest, LedgerEntry
from payments.services import (
    CreditChangeStale,
    CreditsRefused,
    credit_change_approve,
    credit_change_reject,
    credits_adjust,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def request_for_2000(customer, finance_staff) -> CreditChangeRequest:
    return credits_adjust(user=customer, new_balance=2000, expected_balance=0, actor=finance_staff, note="Contract")


def test_a_change_over_the_threshold_waits_and_changes_nothing(customer, finance_staff, request_for_2000):
    assert isinstance(request_for_2000, CreditChangeRequest)
    assert request_for_2000.status == CreditChangeRequest.Status.AWAITING_APPROVAL
    assert (request_for_2000.balance_before, request_for_2000.new_balance) == (0, 2000)
    assert User.objects.get(pk=customer.pk).credits == 0
    assert not LedgerEntry.objects.filter(user=customer).exists()
    assert AuditEvent.objects.filter(action=PaymentAction.CREDITS_CHANGE_REQUESTED, actor=finance_staff).count() == 1


def test_a_change_at_the_threshold_is_applied_at_once(customer, finance_staff):
    entry = credits_adjust(user=customer, new_balance=1000, expected_balance=0, actor=finance_staff)
    assert isinstance(entry, LedgerEntry)
    assert User.objects.get(pk=customer.pk).credits == 1000


def test_another_approver_applies_it_in_the_requesters_name(customer, finance_staff, second_finance, request_for_2000):
    decided = credit_change_approve(change=request_for_2000, approver=second_finance)
    assert decided.status == CreditChangeRequest.Status.APPROVED
    assert decided.decided_by == second_finance
    assert User.objects.get(pk=customer.pk).credits == 2000
    entry = decided.ledger_entry
    assert (entry.kind, entry.credits_delta, entry.actor, entry.note) == ("adjustment", 2000, finance_staff, "Contract")
    approved = AuditEvent.objects.get(action=PaymentAction.CREDITS_CHANGE_APPROVED)
    assert approved.actor == second_finance and approved.about_id == entry.pk
    assert books_verify().offender_count == 0


def test_a_rejection_needs_a_reason_and_applies_nothing(customer, second_finance, request_for_2000):
    with pytest.raises(CreditsRefused, match="Say why"):
        credit_change_reject(change=request_for_2000, approver=second_finance, reason="  ")
    decided = credit_change_reject(change=request_for_2000, approver=second_finance, reason="No contract on file")
    assert (decided.status, decided.rejection_reason) == ("rejected", "No contract on file")
    assert User.objects.get(pk=customer.pk).credits == 0
    assert AuditEvent.objects.filter(action=PaymentAction.CREDITS_CHANGE_REJECTED, actor=second_finance).exists()
    with pytest.raises(CreditsRefused, match="no longer waiting for approval: it is Rejected"):
        credit_change_approve(change=request_for_2000, approver=second_finance)


def test_a_stale_approval_is_refused_with_the_new_balance(customer, finance_staff, second_finance, request_for_2000):
    credits_adjust(user=customer, new_balance=30, expected_balance=0, actor=finance_staff)
    with pytest.raises(CreditChangeStale) as refused:
        credit_change_approve(change=request_for_2000, approver=second_finance)
    assert str(refused.value) == (
        "The balance moved since this change was requested: it is now 30, not 0. "
        "Reject this change; the requester can ask again on the new balance."
    )
    assert User.objects.get(pk=customer.pk).credits == 30
    request_for_2000.refresh_from_db()
    assert request_for_2000.status == CreditChangeRequest.Status.AWAITING_APPROVAL
    assert AuditEvent.objects.filter(action=PaymentAction.CREDITS_CHANGE_STALE, actor=second_finance).count() == 1


def test_the_requester_can_never_approve_or_reject_their_own(finance_staff, request_for_2000):
    with pytest.raises(CreditsRefused, match="You asked for this credit change"):
        credit_change_approve(change=request_for_2000, approver=finance_staff)
    with pytest.raises(CreditsRefused, match="You asked for this credit change"):
        credit_change_reject(change=request_for_2000, approver=finance_staff, reason="Oops")
    assert User.objects.get(pk=request_for_2000.user_id).credits == 0


def test_support_cannot_approve(staff, request_for_2000):
    with pytest.raises(PermissionDenied):
        credit_change_approve(change=request_for_2000, approver=staff)


def test_the_threshold_is_configurable(customer, finance_staff, settings):
    settings.CREDITS_APPROVAL_THRESHOLD = 10
    assert isinstance(
        credits_adjust(user=customer, new_balance=11, expected_balance=0, actor=finance_staff), CreditChangeRequest
    )
