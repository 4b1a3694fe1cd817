"""credits_adjust under real concurrency: threads, each with its own PostgreSQL connection."""

import pytest

from accounts.models import User
from accounts.roles import FINANCE, SUPPORT
from payments.models import LedgerEntry
from payments.selectors import ledger_verify
from payments.services import CreditsConflict, CreditsRefused, credits_adjust
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


def test_support_edits_at_once_on_one_customer_never_pass_the_daily_limit_per_customer(settings):
    settings.CREDITS_SUPPORT_DAILY_PER_CUSTOMER = 1000
    customer = CustomerFactory(credits=0)
    members = [StaffFactory(roles=[SUPPORT], passwordless=True) for _ in range(4)]

    def add_100(index: int) -> int:
        # Each retries on a conflict until it saves or is refused by the limit.
        while True:
            seen = User.objects.get(pk=customer.pk).credits
            try:
                credits_adjust(user=customer, new_balance=seen + 100, expected_balance=seen, actor=members[index % 4])
                return 1
            except CreditsConflict:
                continue
            except CreditsRefused:
                return 0

    results = run_together(add_100, THREADS)
    assert sum(results) == 10  # ten edits of 100 fill the 1,000; the other ten are refused
    assert User.objects.get(pk=customer.pk).credits == 1000
    assert ledger_verify().mismatch_count == 0


def test_one_support_member_on_many_customers_at_once_never_passes_the_daily_limit_per_staff(settings):
    settings.CREDITS_SUPPORT_DAILY_PER_STAFF = 1000
    member = StaffFactory(roles=[SUPPORT], passwordless=True)
    customers = [CustomerFactory(credits=0) for _ in range(THREADS)]

    def add_300(index: int) -> LedgerEntry | Exception:
        return credits_adjust(user=customers[index], new_balance=300, expected_balance=0, actor=member)

    results = run_together(add_300, THREADS)
    saved = [r for r in results if isinstance(r, LedgerEntry)]
    refused = [r for r in results if isinstance(r, CreditsRefused)]
    assert (len(saved), len(refused)) == (3, THREADS - 3), results  # 900; a fourth would be 1,200
    assert all("over your daily limit of 1,000 per staff member" in str(r) for r in refused)
    assert sum(User.objects.filter(pk__in=[c.pk for c in customers]).values_list("credits", flat=True)) == 900
