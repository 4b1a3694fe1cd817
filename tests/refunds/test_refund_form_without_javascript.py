"""The refund form without JavaScript: what it submits means what the JavaScript form would mean.

The dialog first suggests removing the credits a full refund takes back. The page's JavaScript
keeps that suggestion following the amount until the staff member edits it; without JavaScript
the number stays at the full refund's, so the server works it out again for the type and amount
submitted, unless the staff member changed it.
"""

import re

import pytest
from django.urls import reverse

from accounts.models import User
from payments.models import LedgerEntry
from refunds.models import Refund

pytestmark = pytest.mark.django_db(transaction=True)

NO_JS = {}  # a plain form post: no HX-Request


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
    return {name: values[name] for name in ("idempotency_key", "expected_reserved", "credits_suggested")} | {
        "credits_to_remove": re.search(r'id="id_credits_to_remove"[^>]*value="(\d+)"', html).group(1),
        "reason": "requested_by_customer",
        "note": "",
        "notify_customer": "on",
    }


def credits_removed(refund: Refund) -> int:
    return -LedgerEntry.objects.get(refund_id=refund.pk, kind="refund").credits_delta


def test_the_form_first_suggests_the_credits_a_full_refund_takes_back(finance_client, pack):
    data = opened_form(finance_client, pack)
    assert data["credits_to_remove"] == data["credits_suggested"] == "2000"


def test_a_partial_refund_left_at_the_suggestion_takes_back_its_share_only(finance_client, pack):
    data = opened_form(finance_client, pack) | {"type": "partial", "amount": "49.75"}
    response = finance_client.post(url(pack), data)
    assert response.status_code == 200
    refund = Refund.objects.get()
    assert refund.amount == 4975
    assert credits_removed(refund) == 500  # 2,000 x 49.75 / 199.00, not all 2,000
    assert User.objects.get(pk=pack.user_id).credits == 1500


def test_a_full_refund_left_at_the_suggestion_takes_back_all_it_bought(finance_client, pack):
    response = finance_client.post(url(pack), opened_form(finance_client, pack) | {"type": "full"})
    assert response.status_code == 200
    assert credits_removed(Refund.objects.get()) == 2000


def test_credits_the_staff_member_changed_are_taken_as_typed(finance_client, pack):
    data = opened_form(finance_client, pack) | {"type": "partial", "amount": "49.75", "credits_to_remove": "1200"}
    finance_client.post(url(pack), data)
    assert credits_removed(Refund.objects.get()) == 1200


def test_with_javascript_an_edited_number_is_taken_as_typed_even_when_it_equals_the_suggestion(finance_client, pack):
    # The page's JavaScript empties credits_suggested once the field is edited.
    data = opened_form(finance_client, pack) | {"type": "partial", "amount": "49.75", "credits_suggested": ""}
    finance_client.post(url(pack), data, headers={"HX-Request": "true"})
    assert credits_removed(Refund.objects.get()) == 2000


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
