import pytest

from accounts.roles import ADMINISTRATOR
from tests.factories import StaffFactory


@pytest.fixture
def admin_client(client):
    admin = StaffFactory(first_name="Ada", last_name="Admin", roles=[ADMINISTRATOR])
    client.force_login(admin)
    client.admin = admin
    return client
