"""payments.services.credits_adjust: the rule, each refusal, and that a refusal writes nothing."""

import pytest

from accounts.models import User
from payments.models import LedgerEntry
from payments.selectors import ledger_verify
from payments.services import CreditsConflict, CreditsRefused, credits_adjust
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def test_it_sets_the_new_balance_with_one_adjustment_entry(customer, staff):
    entry = credits_adjust(user=customer, new_balance=150, expected_balance=0, actor=staff, note="  goodwill  ")
    customer.refresh_from_db()
    assert customer.credits == 150
    assert list(LedgerEntry.objects.filter(user=customer)) == [entry]
    assert (entry.kind, entry.credits_delta, entry.balance_after, entry.actor, entry.note) == (
        LedgerEntry.Kind.ADJUSTMENT,
        150,
        150,
        staff,
        "goodwill",
    )
    assert entry.money_delta is None and entry.currency == ""


def test_it_lowers_a_balance_with_a_negative_delta(staff):
    customer = CustomerFactory()
    credits_adjust(user=customer, new_balance=100, expected_balance=0, actor=staff)
    entry = credits_adjust(user=customer, new_balance=40, expected_balance=100, actor=staff)
    assert (entry.credits_delta, entry.balance_after, entry.balance_before) == (-60, 40, 100)
    assert User.objects.get(pk=customer.pk).credits == 40
    assert ledger_verify().mismatch_count == 0


def test_it_updates_the_callers_user_object(customer, staff):
    credits_adjust(user=customer, new_balance=7, expected_balance=0, actor=staff)
    assert customer.credits == 7


@pytest.mark.parametrize(
    ("new_balance", "message"),
    [(-1, "Credits cannot be negative."), (1_000_001, "Credits can be at most 1,000,000."), (0, "already 0")],
)
def test_it_refuses_bad_balances_and_writes_nothing(customer, staff, new_balance, message):
    with pytest.raises(CreditsRefused, match=message):
        credits_adjust(user=customer, new_balance=new_balance, expected_balance=0, actor=staff)
    assert User.objects.get(pk=customer.pk).credits == 0
    assert not LedgerEntry.objects.exists()


def test_the_maximum_is_configurable(customer, staff, settings):
    settings.CREDITS_MAX_BALANCE = 500
    with pytest.raises(CreditsRefused, match="at most 500"):
        credits_adjust(user=customer, new_balance=501, expected_balance=0, actor=staff)
    credits_adjust(user=customer, new_balance=500, expected_balance=0, actor=staff)
    assert User.objects.get(pk=customer.pk).credits == 500


def test_it_refuses_a_stale_expected_balance_and_says_who_changed_it(customer, staff, credits_staff):
    credits_adjust(user=customer, new_balance=80, expected_balance=0, actor=credits_staff)
    with pytest.raises(CreditsConflict) as raised:
        credits_adjust(user=customer, new_balance=10, expected_balance=0, actor=staff)
    assert raised.value.current_balance == 80
    assert raised.value.last_entry.actor == credits_staff
    assert User.objects.get(pk=customer.pk).credits == 80
    assert LedgerEntry.objects.count() == 1


def test_the_conflict_check_comes_before_the_no_op_check(customer, staff):
    credits_adjust(user=customer, new_balance=80, expected_balance=0, actor=staff)
    # The staff member saw 0 and typed 80: the balance is 80 now, but not because of them.
    with pytest.raises(CreditsConflict):
        credits_adjust(user=customer, new_balance=80, expected_balance=0, actor=staff)


def test_outside_a_request_the_entry_has_no_correlation_id(customer, staff):
    entry = credits_adjust(user=customer, new_balance=5, expected_balance=0, actor=staff)
    assert entry.correlation_id == ""
