"""The refund form without JavaScript: what it submits means what the JavaScript form would mean.

The dialog opens with nothing that moves money chosen: no type, no amount, and "Also remove
purchased credits" empty, with the suggestion for the amount shown beside it. The page's
JavaScript fills the suggestion in as the amount is typed; without JavaScript the field stays
empty, and empty means that suggestion, worked out by the server for the type and amount
submitted. A number the staff member typed is taken as typed.
"""

import re

import pytest
from django.urls import reverse

from accounts.models import User
from payments.models import LedgerEntry
from refunds.models import Refund

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def finance_client(client, finance):
    client.force_login(finance)
    return client


@pytest.fixture
def pack(make_payment):
    """A $199.00 payment for 2,000 credits, all still on the account."""
    return make_payment(amount=19900, credits_bought=2000, description="Team pack — 2,000 credits")


def url(payment):
    return reverse("refund_create", args=[payment.user_id, payment.pk])


def opened_form(client, payment) -> dict:
    """The fields as the dialog first fills them (the no-JavaScript page)."""
    html = client.get(url(payment)).content.decode()
    values = dict(re.findall(r'name="(\w+)" value="([^"]*)"', html))
    return {name: values[name] for name in ("idempotency_key", "expected_reserved")} | {
        "credits_to_remove": re.search(r'id="id_credits_to_remove"[^>]*value="(\d*)"', html).group(1),
        "reason": "requested_by_customer",
        "note": "",
        "notify_customer": "on",
    }


def credits_removed(refund: Refund) -> int:
    return -LedgerEntry.objects.get(refund_id=refund.pk, kind="refund").credits_delta


def test_the_form_opens_with_no_credits_chosen(finance_client, pack):
    assert opened_form(finance_client, pack)["credits_to_remove"] == ""


def test_a_partial_refund_left_at_the_suggestion_takes_back_its_share_only(finance_client, pack):
    data = opened_form(finance_client, pack) | {"type": "partial", "amount": "49.75"}
    response = finance_client.post(url(pack), data)
    assert response.status_code == 200
    refund = Refund.objects.get()
    assert refund.amount == 4975
    assert credits_removed(refund) == 500  # 2,000 x 49.75 / 199.00, not all 2,000
    assert User.objects.get(pk=pack.user_id).credits == 1500


def test_full_refund_chosen_with_no_amount_refunds_all_that_remains_and_its_credits(finance_client, pack):
    response = finance_client.post(url(pack), opened_form(finance_client, pack) | {"type": "full"})
    assert response.status_code == 200
    refund = Refund.objects.get()
    assert (refund.type, refund.amount) == (Refund.Type.FULL, 19900)
    assert credits_removed(refund) == 2000


def test_credits_the_staff_member_typed_are_taken_as_typed(finance_client, pack):
    data = opened_form(finance_client, pack) | {"type": "partial", "amount": "49.75", "credits_to_remove": "1200"}
    finance_client.post(url(pack), data)
    assert credits_removed(Refund.objects.get()) == 1200


def test_zero_typed_removes_no_credits(finance_client, pack):
    data = opened_form(finance_client, pack) | {"type": "partial", "amount": "49.75", "credits_to_remove": "0"}
    finance_client.post(url(pack), data)
    assert not LedgerEntry.objects.filter(kind="refund", credits_delta__lt=0).exists()
    assert User.objects.get(pk=pack.user_id).credits == 2000


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("amount", "\u09ea0.00", "Enter an amount like 12.50."),
        ("amount", "\u0661\u0662\u0663", "Enter an amount like 12.50."),
        ("credits_to_remove", "\u09ea0", "Enter a whole number of credits."),
        ("credits_to_remove", "\uff14", "Enter a whole number of credits."),
    ],
)
def test_other_scripts_digits_are_a_form_error_and_refund_nothing(finance_client, pack, field, value, message):
    data = opened_form(finance_client, pack) | {"type": "partial", "amount": "10.00", field: value}
    response = finance_client.post(url(pack), data, headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Refund.objects.exists()
