"""The ledger is append-only in the database itself: raw SQL cannot rewrite or remove history."""

import pytest
from django.db import IntegrityError, connection, transaction

from payments.models import LedgerEntry
from payments.services import credits_adjust

pytestmark = pytest.mark.django_db


@pytest.fixture
def entry(customer, staff):
    return credits_adjust(user=customer, new_balance=100, expected_balance=0, actor=staff)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE payments_ledgerentry SET credits_delta = 1000000 WHERE id = %s",
        "UPDATE payments_ledgerentry SET note = 'rewritten' WHERE id = %s",
        "DELETE FROM payments_ledgerentry WHERE id = %s",
    ],
)
def test_raw_sql_cannot_change_or_delete_an_entry(entry, sql):
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [entry.pk])
    stored = LedgerEntry.objects.get(pk=entry.pk)
    assert (stored.credits_delta, stored.note) == (100, "")


def test_the_orm_cannot_change_an_entry_either(entry):
    entry.note = "rewritten"
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        entry.save()
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        LedgerEntry.objects.filter(pk=entry.pk).delete()
    assert LedgerEntry.objects.get(pk=entry.pk).note == ""


def test_a_customer_with_history_cannot_be_deleted(entry, customer):
    from django.db.models import ProtectedError

    with pytest.raises(ProtectedError):
        customer.delete()


def test_the_database_refuses_a_negative_balance_after(customer, staff):
    with pytest.raises(IntegrityError, match="ledger_balance_never_negative"), transaction.atomic():
        LedgerEntry.objects.create(user=customer, kind="adjustment", credits_delta=-5, balance_after=-5)


def test_the_database_refuses_money_without_a_currency(customer):
    with pytest.raises(IntegrityError, match="ledger_money_has_a_currency"), transaction.atomic():
        LedgerEntry.objects.create(user=customer, kind="refund", credits_delta=0, money_delta=-500, balance_after=0)
