"""Fixtures for the security tests (the people themselves are made by tests/people.py)."""

import pytest

from accounts.models import User
from tests.factories import STAFF_PASSWORD, CustomerFactory


@pytest.fixture(autouse=True)
def fast_password_hasher(settings) -> None:
    # The real hasher takes half a second per password by design; these tests log in a lot.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def require_2fa(settings) -> None:
    settings.STATSTAK_REQUIRE_2FA = True


@pytest.fixture
def customer_account(db) -> User:
    """A customer who somehow has a password: the portal must still refuse them."""
    customer = CustomerFactory(email="someone@example.com")
    customer.set_password(STAFF_PASSWORD)
    customer.save()
    return customer
