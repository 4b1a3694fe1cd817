"""No self-service: a staff member cannot refund their own account's payments, nor approve or
reject a refund to it; refused in the service, audited."""

import pytest
from django.urls import reverse

from accounts.roles import FINANCE
from audit.models import AuditEvent
from refunds.audit import RefundAction
from refunds.models import Refund
from refunds.services import RefundRefused, refund_approve, refund_reject
from tests.factories import PaymentFactory, StaffFactory, purchase_record
from tests.helpers import refund_request

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def own_payment(finance):
    """A payment of a customer account with the Finance member's phone number: their own."""
    finance.phone = "+12025550188"
    finance.save()
    return purchase_record(PaymentFactory(user__phone="+12025550188", amount=100000))


def test_a_staff_member_cannot_refund_their_own_account(own_payment, finance):
    with pytest.raises(RefundRefused, match=r"This is your own account .*you cannot refund its payments"):
        refund_request(own_payment, actor=finance, amount=1000)
    assert not Refund.objects.exists()
    event = AuditEvent.objects.get(action=RefundAction.SELF_SERVICE_REFUSED)
    assert (event.actor, event.target_user_id) == (finance, own_payment.user_id)


def test_nor_through_the_refund_dialog(client, own_payment, finance):
    client.force_login(finance)
    url = reverse("refund_create", args=[own_payment.user_id, own_payment.pk])
    form = {
        "type": "partial",
        "amount": "10.00",
        "reason": "requested_by_customer",
        "note": "",
        "credits_to_remove": "0",
        "idempotency_key": "self-service-key-0001",
        "expected_reserved": "0",
    }
    response = client.post(url, form, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "you cannot refund its payments" in response.content.decode()
    assert not Refund.objects.exists()


def test_nobody_approves_or_rejects_a_refund_to_their_own_account(client, own_payment, finance):
    requester = StaffFactory(roles=[FINANCE], passwordless=True)
    refund = refund_request(own_payment, actor=requester, amount=60000)
    assert refund.status == Refund.Status.AWAITING_APPROVAL
    with pytest.raises(RefundRefused, match="This refund is to your own account"):
        refund_approve(refund=refund, approver=finance)
    with pytest.raises(RefundRefused, match="This refund is to your own account"):
        refund_reject(refund=refund, approver=finance, reason="Mine")
    client.force_login(finance)
    response = client.post(reverse("refund_approve", args=[refund.pk]), headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert "another staff member must approve or reject it" in response.content.decode()
    refund.refresh_from_db()
    assert refund.status == Refund.Status.AWAITING_APPROVAL
    assert AuditEvent.objects.filter(action=RefundAction.SELF_SERVICE_REFUSED, actor=finance).count() == 3
