import pytest

from accounts.models import User
from accounts.roles import FINANCE
from payments.models import LedgerEntry
from payments.services import ledger_append
from tests.factories import PaymentFactory, StaffFactory


@pytest.fixture
def finance(db):
    """Finance: may refund, and approve other people's large refunds."""
    return StaffFactory(first_name="Fran", last_name="Finance", roles=[FINANCE])


def purchase(payment):
    """The purchase ledger entry that gave the customer the payment's credits."""
    from django.db import transaction

    with transaction.atomic():
        customer = User.objects.select_for_update().get(pk=payment.user_id)
        ledger_append(
            locked_user=customer,
            kind=LedgerEntry.Kind.PURCHASE,
            credits_delta=payment.credits_bought,
            money_delta=payment.amount,
            currency=payment.currency,
            actor=None,
            payment=payment,
        )
    return payment


@pytest.fixture
def make_payment(db):
    def make(**fields):
        return purchase(PaymentFactory(**fields))

    return make
