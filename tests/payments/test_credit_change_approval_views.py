"""Large credit changes on the Approvals page, beside refunds: approve, reject, stale, self."""

import pytest
from django.urls import reverse

from accounts.models import User
from payments.models import CreditChangeRequest
from payments.services import credits_adjust

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


@pytest.fixture
def change(customer, finance_staff) -> CreditChangeRequest:
    return credits_adjust(user=customer, new_balance=3000, expected_balance=0, actor=finance_staff, note="Contract")


def test_the_approvals_page_lists_credit_changes_beside_refunds(client, change, second_finance):
    client.force_login(second_finance)
    page = client.get(reverse("approvals")).content.decode()
    assert "Credit changes" in page and "0 → 3,000" in page and "Approve and apply" in page
    assert page.count(f'hx-target="#credit-change-{change.pk}"') == 2  # once, in the page's body
    assert "Credit changes" not in page.split("<title>")[1].split("</title>")[0]
    assert f'id="reject-credit-reason-{change.pk}"' in page
    assert "No refunds are waiting for approval." in page


def test_another_approver_applies_it_by_htmx(client, customer, change, second_finance):
    client.force_login(second_finance)
    response = client.post(reverse("credit_change_approve", args=[change.pk]), headers=HTMX)
    assert response.status_code == 200
    assert "Approved" in response.content.decode()
    assert User.objects.get(pk=customer.pk).credits == 3000


def test_a_rejection_by_htmx_applies_nothing(client, customer, change, second_finance):
    client.force_login(second_finance)
    response = client.post(reverse("credit_change_reject", args=[change.pk]), {"reason": "No"}, headers=HTMX)
    assert response.status_code == 200 and "Rejected" in response.content.decode()
    assert User.objects.get(pk=customer.pk).credits == 0


def test_a_stale_approval_shows_the_new_balance(client, customer, change, finance_staff, second_finance):
    credits_adjust(user=customer, new_balance=40, expected_balance=0, actor=finance_staff)
    client.force_login(second_finance)
    response = client.post(reverse("credit_change_approve", args=[change.pk]), headers=HTMX)
    assert response.status_code == 422
    assert "The balance moved since this change was requested: it is now 40, not 0." in response.content.decode()
    assert User.objects.get(pk=customer.pk).credits == 40


def test_the_requester_sees_it_waiting_and_cannot_approve_it(client, change, finance_staff):
    client.force_login(finance_staff)
    assert "Waiting for another approver" in client.get(reverse("approvals")).content.decode()
    response = client.post(reverse("credit_change_approve", args=[change.pk]), headers=HTMX)
    assert response.status_code == 422
    assert "You asked for this credit change, so another staff member must approve or reject it." in (
        response.content.decode()
    )


def test_an_approver_cannot_approve_a_change_to_their_own_account(client, finance_staff, second_finance):
    second_finance.phone = "+12025550166"
    second_finance.save()
    own = User.objects.create_user("own@example.com", first_name="Own", last_name="Account", phone="+12025550166")
    change = credits_adjust(user=own, new_balance=5000, expected_balance=0, actor=finance_staff)
    client.force_login(second_finance)
    response = client.post(reverse("credit_change_approve", args=[change.pk]), headers=HTMX)
    assert response.status_code == 422
    assert "This is your own account" in response.content.decode()
    assert User.objects.get(pk=own.pk).credits == 0
