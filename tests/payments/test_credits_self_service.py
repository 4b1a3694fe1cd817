"""No self-service: staff cannot change the credits of their own customer account, nor approve a
change to it; refused in the service, audited."""

import pytest

from accounts.models import User
from audit.models import AuditEvent
from payments.audit import PaymentAction
from payments.models import CreditChangeRequest, LedgerEntry
from payments.services import CreditsSelfService, credit_change_approve, credit_change_reject, credits_adjust
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db

REFUSAL = (
    "This is your own account (same person, email or phone): you cannot change its credits. Ask another staff member."
)


def test_a_staff_member_cannot_change_their_own_credits(staff):
    with pytest.raises(CreditsSelfService) as refused:
        credits_adjust(user=staff, new_balance=100, expected_balance=0, actor=staff)
    assert str(refused.value) == REFUSAL
    assert User.objects.get(pk=staff.pk).credits == 0
    event = AuditEvent.objects.get(action=PaymentAction.CREDITS_SELF_SERVICE_REFUSED)
    assert (event.actor, event.target_user, event.after) == (staff, staff, {"new_balance": 100})


def test_nor_those_of_a_customer_account_with_their_phone(staff):
    staff.phone = "+12025550199"
    staff.save()
    own = CustomerFactory(email="adam.private@example.com", phone="+12025550199")
    with pytest.raises(CreditsSelfService):
        credits_adjust(user=own, new_balance=100, expected_balance=0, actor=staff)
    assert not LedgerEntry.objects.exists()
    assert AuditEvent.objects.filter(action=PaymentAction.CREDITS_SELF_SERVICE_REFUSED, target_user=own).exists()


def test_the_same_email_in_another_case_is_the_same_person():
    # Emails are unique whatever their case, so two saved accounts never share one; the rule holds anyway.
    staff = User(pk=1, email="adam.hobson@example.com")
    assert staff.is_same_person_as(User(pk=2, email="ADAM.Hobson@Example.com"))
    assert not staff.is_same_person_as(User(pk=2, email="adam.hobson@example.org"))
    assert not User(pk=1, email="a@x.test").is_same_person_as(User(pk=2, email="b@x.test"))  # no phones: no match


def test_another_customer_with_a_different_phone_is_fine(staff):
    staff.phone = "+12025550199"
    staff.save()
    other = CustomerFactory(phone="+12025550100")
    credits_adjust(user=other, new_balance=100, expected_balance=0, actor=staff)
    assert User.objects.get(pk=other.pk).credits == 100


def test_nobody_approves_or_rejects_a_change_to_their_own_account(finance_staff, second_finance):
    second_finance.phone = "+12025550177"
    second_finance.save()
    own = CustomerFactory(phone="+12025550177")
    change = credits_adjust(user=own, new_balance=5000, expected_balance=0, actor=finance_staff)
    assert isinstance(change, CreditChangeRequest)
    with pytest.raises(CreditsSelfService):
        credit_change_approve(change=change, approver=second_finance)
    with pytest.raises(CreditsSelfService):
        credit_change_reject(change=change, approver=second_finance, reason="Mine")
    change.refresh_from_db()
    assert change.status == CreditChangeRequest.Status.AWAITING_APPROVAL
    assert User.objects.get(pk=own.pk).credits == 0
    assert (
        AuditEvent.objects.filter(action=PaymentAction.CREDITS_SELF_SERVICE_REFUSED, actor=second_finance).count() == 2
    )
