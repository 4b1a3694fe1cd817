"""Any sequence of adjustments keeps invariant 1: the ledger explains the balance, never negative."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from accounts.roles import FINANCE
from payments.models import LedgerEntry
from payments.selectors import ledger_verify
from payments.services import CreditsConflict, CreditsRefused, credits_adjust
from tests.factories import CustomerFactory, StaffFactory

# Each step: the balance to set, and whether the staff member's page is stale.
steps = st.lists(st.tuples(st.integers(min_value=-50, max_value=1_000_100), st.booleans()), max_size=12)


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps)
def test_any_sequence_of_adjustments_keeps_the_ledger_and_balance_in_step(steps):
    customer = CustomerFactory()
    staff = StaffFactory(roles=[FINANCE])
    expected = 0
    for new_balance, stale in steps:
        seen = expected + 1 if stale else expected
        try:
            result = credits_adjust(user=customer, new_balance=new_balance, expected_balance=seen, actor=staff)
            if isinstance(result, LedgerEntry):  # a large change waits for approval instead (four-eyes)
                expected = new_balance
        except (CreditsRefused, CreditsConflict):
            pass
        balance = User.objects.get(pk=customer.pk).credits
        assert balance == expected
        assert balance >= 0
    entries = LedgerEntry.objects.filter(user=customer)
    assert sum(entries.values_list("credits_delta", flat=True)) == expected
    report = ledger_verify()
    assert report.mismatch_count == 0
