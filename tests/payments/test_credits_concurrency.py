"""credits_adjust under real concurrency: threads, each with its own PostgreSQL connection."""

import pytest

from accounts.models import User
from accounts.roles import FINANCE
from payments.models import LedgerEntry
from payments.selectors import ledger_verify
from payments.services import CreditsConflict, credits_adjust
from tests.concurrency import run_together
from tests.factories import CustomerFactory, StaffFactory

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20


def test_twenty_saves_from_the_same_stale_page_let_exactly_one_through():
    customer = CustomerFactory(credits=0)
    staff = StaffFactory(roles=[FINANCE])

    def save(index: int) -> LedgerEntry:
        user = User.objects.get(pk=customer.pk)
        return credits_adjust(user=user, new_balance=100 + index, expected_balance=0, actor=staff)

    results = run_together(save, THREADS)
    saved = [r for r in results if isinstance(r, LedgerEntry)]
    conflicts = [r for r in results if isinstance(r, CreditsConflict)]
    assert len(saved) == 1
    assert len(conflicts) == THREADS - 1
    assert all(conflict.current_balance == saved[0].balance_after for conflict in conflicts)
    assert User.objects.get(pk=customer.pk).credits == saved[0].balance_after
    assert LedgerEntry.objects.filter(user=customer).count() == 1
    assert ledger_verify().mismatch_count == 0


def test_twenty_increments_from_fresh_reads_with_retry_lose_nothing():
    customer = CustomerFactory(credits=0)
    staff = StaffFactory(roles=[FINANCE])
    credits_adjust(user=customer, new_balance=50, expected_balance=0, actor=staff)

    def add_one(index: int) -> int:
        attempts = 0
        while True:
            attempts += 1
            seen = User.objects.get(pk=customer.pk).credits
            try:
                credits_adjust(user=customer, new_balance=seen + 1, expected_balance=seen, actor=staff)
                return attempts
            except CreditsConflict:
                continue

    results = run_together(add_one, THREADS)
    assert all(isinstance(r, int) for r in results), results
    assert User.objects.get(pk=customer.pk).credits == 50 + THREADS
    assert LedgerEntry.objects.filter(user=customer).count() == 1 + THREADS
    history = list(LedgerEntry.objects.filter(user=customer).order_by("id").values_list("balance_after", flat=True))
    assert history == list(range(50, 50 + THREADS + 1))
    assert ledger_verify().mismatch_count == 0
