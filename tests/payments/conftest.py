import pytest

from accounts.roles import FINANCE
from tests.factories import StaffFactory


@pytest.fixture
def finance_staff(db):
    """Finance: not held to Support's credit limits; may approve another's large credit change."""
    return StaffFactory(first_name="Fran", last_name="Finance", roles=[FINANCE], passwordless=True)


@pytest.fixture
def second_finance(db):
    return StaffFactory(first_name="Sam", last_name="Second", roles=[FINANCE], passwordless=True)
