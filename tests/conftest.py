import pytest
from django.contrib.auth.models import Permission

from tests.factories import CustomerFactory, StaffFactory


@pytest.fixture
def staff(db):
    return StaffFactory(first_name="Adam", last_name="Hobson")


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client


@pytest.fixture
def credits_staff(db):
    """A staff member allowed to change credits."""
    staff = StaffFactory(first_name="Casey", last_name="Credits")
    staff.user_permissions.add(Permission.objects.get(codename="adjust_credits"))
    return staff


@pytest.fixture
def customer(db):
    return CustomerFactory(first_name="Elijah", last_name="Herrick", email="elijah.herrick@example.com")
