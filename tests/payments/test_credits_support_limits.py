"""Support's cumulative credit limits: per edit, per customer per day, per staff member per day."""

import pytest

from accounts.models import User
from payments.models import LedgerEntry
from payments.selectors import credits_allowance
from payments.services import CreditsRefused, credits_adjust
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def add(customer: User, actor: User, delta: int) -> LedgerEntry:
    seen = User.objects.get(pk=customer.pk).credits
    return credits_adjust(user=customer, new_balance=seen + delta, expected_balance=seen, actor=actor)


def test_five_plus_500_edits_are_refused_from_the_one_that_crosses_the_daily_limit_per_customer(customer, staff):
    add(customer, staff, 500)
    add(customer, staff, 500)  # 1,000: exactly the limit
    for _ in range(3):
        with pytest.raises(CreditsRefused) as refused:
            add(customer, staff, 500)
        assert str(refused.value) == (
            "That would bring the credits changed on this customer today to 1,500, over the daily limit of 1,000 "
            "per customer for your role; 0 remain today. Ask Finance or an Administrator."
        )
    assert User.objects.get(pk=customer.pk).credits == 1000
    assert LedgerEntry.objects.filter(user=customer).count() == 2


def test_a_single_edit_over_the_per_edit_limit_is_refused_as_before(customer, staff):
    with pytest.raises(CreditsRefused, match="at most 500 at a time"):
        add(customer, staff, 501)


def test_lowering_counts_too_and_the_refusal_says_what_remains(customer, staff, settings):
    settings.CREDITS_SUPPORT_DAILY_PER_CUSTOMER = 800
    add(customer, staff, 500)
    add(customer, staff, -200)  # 700 changed
    with pytest.raises(CreditsRefused, match=r"to 1,000, over the daily limit of 800 per customer.*; 100 remain today"):
        add(customer, staff, 300)
    add(customer, staff, 100)
    assert User.objects.get(pk=customer.pk).credits == 400


def test_the_daily_limit_per_staff_member_counts_every_customer(staff, settings):
    settings.CREDITS_SUPPORT_DAILY_PER_STAFF = 1200
    first, second, third = CustomerFactory(), CustomerFactory(), CustomerFactory()
    add(first, staff, 500)
    add(second, staff, 500)
    with pytest.raises(CreditsRefused) as refused:
        add(third, staff, 300)
    assert str(refused.value) == (
        "That would bring the credits you changed today to 1,300, over your daily limit of 1,200 per staff member; "
        "200 remain today. Ask Finance or an Administrator."
    )
    add(third, staff, 200)
    assert credits_allowance(staff=staff, customer=third).staff_remaining == 0


def test_finance_is_not_held_to_supports_daily_limits(customer, finance_staff):
    for _ in range(5):
        add(customer, finance_staff, 500)
    assert User.objects.get(pk=customer.pk).credits == 2500
    assert credits_allowance(staff=finance_staff, customer=customer).limited is False


def test_what_someone_else_changed_on_the_customer_counts_against_support(customer, staff, finance_staff):
    add(customer, finance_staff, 900)
    with pytest.raises(CreditsRefused, match="to 1,100, over the daily limit of 1,000 per customer"):
        add(customer, staff, 200)
    allowance = credits_allowance(staff=staff, customer=customer)
    assert (allowance.customer_remaining, allowance.staff_remaining, allowance.remaining) == (100, 2000, 100)
