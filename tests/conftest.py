import pytest

from tests.factories import CustomerFactory, StaffFactory


@pytest.fixture
def staff(db):
    return StaffFactory(first_name="Adam", last_name="Hobson")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def customer(db):
    return CustomerFactory(first_name="Elijah", last_name="Herrick", email="elijah.herrick@example.com")
