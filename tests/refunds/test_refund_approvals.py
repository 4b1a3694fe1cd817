"""Maker-checker: refunds over REFUND_APPROVAL_THRESHOLD wait for a second staff member."""

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from accounts.roles import FINANCE, SUPPORT
from audit.models import AuditEvent
from payments.models import LedgerEntry
from payments.selectors import ledger_verify
from refunds.audit import RefundAction
from refunds.models import Refund
from refunds.services import RefundRefused, payment_refundable, refund_approve, refund_reject
from tests.concurrency import run_together
from tests.factories import StaffFactory
from tests.helpers import refund_request

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def second_finance(db):
    return StaffFactory(first_name="Sam", last_name="Second", roles=[FINANCE])


# Over REFUND_APPROVAL_THRESHOLD ($500.00): it waits for a second staff member.
BIG = 60000


def test_a_refund_over_the_threshold_waits_with_its_amount_reserved(make_payment, finance):
    payment = make_payment(amount=100000, credits_bought=1000)
    refund = refund_request(payment, actor=finance, amount=BIG)
    assert refund.status == Refund.Status.AWAITING_APPROVAL
    assert refund.gateway_refund_id == ""
    assert payment_refundable(payment=payment).amount == 40000
    assert not LedgerEntry.objects.filter(refund_id=refund.pk).exists()


def test_another_finance_member_approves_and_it_is_carried_out(make_payment, finance, second_finance):
    payment = make_payment(amount=100000, credits_bought=1000)
    refund = refund_approve(refund=refund_request(payment, actor=finance, amount=BIG), approver=second_finance)
    assert refund.status == Refund.Status.SUCCEEDED
    assert refund.decided_by == second_finance
    assert LedgerEntry.objects.filter(refund_id=refund.pk).count() == 1
    actions = list(AuditEvent.objects.filter(about_id=refund.pk).order_by("id").values_list("action", "actor"))
    assert actions == [
        (RefundAction.REQUESTED, finance.pk),
        (RefundAction.APPROVED, second_finance.pk),
        (RefundAction.EXECUTED, finance.pk),
    ]
    assert ledger_verify().mismatch_count == 0


def test_the_requester_can_never_approve_or_reject_their_own(make_payment, finance):
    refund = refund_request(make_payment(amount=100000), actor=finance, amount=BIG)
    with pytest.raises(RefundRefused, match="another staff member must approve"):
        refund_approve(refund=refund, approver=finance)
    with pytest.raises(RefundRefused, match="another staff member must approve"):
        refund_reject(refund=refund, approver=finance, reason="no")
    assert Refund.objects.get(pk=refund.pk).status == Refund.Status.AWAITING_APPROVAL


def test_support_cannot_approve(make_payment, finance):
    refund = refund_request(make_payment(amount=100000), actor=finance, amount=BIG)
    with pytest.raises(PermissionDenied):
        refund_approve(refund=refund, approver=StaffFactory(roles=[SUPPORT]))


def test_a_rejection_needs_a_reason_and_releases_the_amount(make_payment, finance, second_finance):
    payment = make_payment(amount=100000)
    refund = refund_request(payment, actor=finance, amount=BIG)
    with pytest.raises(RefundRefused, match="Say why"):
        refund_reject(refund=refund, approver=second_finance, reason="  ")
    rejected = refund_reject(refund=refund, approver=second_finance, reason="Customer already got a voucher")
    assert (rejected.status, rejected.rejection_reason) == (Refund.Status.REJECTED, "Customer already got a voucher")
    assert payment_refundable(payment=payment).amount == 100000
    with pytest.raises(RefundRefused, match="no longer waiting"):
        refund_approve(refund=refund, approver=second_finance)


def test_two_approvers_at_once_execute_it_once(make_payment, finance, second_finance):
    third = StaffFactory(roles=[FINANCE])
    refund = refund_request(make_payment(amount=100000, credits_bought=1000), actor=finance, amount=BIG)
    approvers = [second_finance, third]
    results = run_together(lambda i: refund_approve(refund=refund, approver=approvers[i % 2]), 6)
    assert len([r for r in results if isinstance(r, Refund)]) == 1, results
    assert all("no longer waiting" in str(r) for r in results if not isinstance(r, Refund))
    assert LedgerEntry.objects.filter(refund_id=refund.pk).count() == 1
    assert AuditEvent.objects.filter(action=RefundAction.APPROVED).count() == 1


def test_the_daily_cap_per_staff_member_is_enforced(make_payment, finance, settings):
    settings.REFUND_DAILY_CAP = 5000
    first = make_payment()
    refund_request(first, actor=finance, amount=3000, idempotency_key="cap-key-000000000001")
    with pytest.raises(RefundRefused, match=r"over the daily limit of \$50\.00"):
        refund_request(make_payment(), actor=finance, amount=2001, idempotency_key="cap-key-000000000002")
    refund_request(make_payment(), actor=finance, amount=2000, idempotency_key="cap-key-000000000003")
    assert Refund.objects.count() == 2


def test_the_approvals_page_lists_waiting_refunds_and_decides_by_htmx(client, make_payment, finance, second_finance):
    refund = refund_request(make_payment(amount=100000), actor=finance, amount=BIG)
    client.force_login(second_finance)
    page = client.get(reverse("approvals")).content.decode()
    assert "$600.00" in page and "Approve and refund" in page and "Fran Finance" in page
    # Each decision swaps its own row, and its reason field is labelled.
    assert page.count(f'hx-target="#approval-{refund.pk}"') == 2
    assert f'<label class="visually-hidden" for="reject-reason-{refund.pk}">' in page
    response = client.post(
        reverse("refund_reject", args=[refund.pk]), {"reason": "Too much"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "Rejected" in response.content.decode()
    client.force_login(finance)
    own = client.get(reverse("approvals")).content.decode()
    assert "$600.00" not in own  # decided, no longer waiting


def test_the_approvals_page_is_for_approvers_only(client, make_payment, finance):
    client.force_login(StaffFactory(roles=[SUPPORT]))
    assert client.get(reverse("approvals")).status_code == 403
    refund = refund_request(make_payment(amount=100000), actor=finance, amount=BIG)
    assert client.post(reverse("refund_approve", args=[refund.pk])).status_code in (302, 403)
    assert Refund.objects.get(pk=refund.pk).status == Refund.Status.AWAITING_APPROVAL
