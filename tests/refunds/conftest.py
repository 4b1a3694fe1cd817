import pytest

from accounts.roles import FINANCE
from tests.factories import PaymentFactory, StaffFactory, purchase_record


@pytest.fixture
def finance(db):
    """Finance: may refund, and approve other people's large refunds."""
    return StaffFactory(first_name="Fran", last_name="Finance", roles=[FINANCE])


@pytest.fixture
def refunder(db):
    """Finance, who never logs in here: no password (hashing one is most of a short test's time)."""
    return StaffFactory(roles=[FINANCE], passwordless=True)


@pytest.fixture
def make_payment(db):
    def make(**fields):
        return purchase_record(PaymentFactory(**fields))

    return make
