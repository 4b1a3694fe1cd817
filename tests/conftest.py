import pytest
from django.contrib.auth.models import Permission

from accounts.roles import SUPPORT
from tests.factories import CustomerFactory, StaffFactory

# Fixtures for every folder: the fakes of Stripe and Twilio and the job queue's (tests/fakes/), and
# real processes (gunicorn, the development server, workers, a private PostgreSQL).
pytest_plugins = ["tests.fakes.fixtures", "tests.processes"]


def pytest_collection_modifyitems(config, items: list[pytest.Item]) -> None:
    """Browser tests last: Playwright's sync API keeps an event loop running in the main thread
    for the rest of the session, and the in-process queue workers of other tests (asyncio.run)
    cannot start inside it. (Also: the fast tests answer first.)"""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture
def staff(db):
    """Support: may look customers up and change credits within the Support limit."""
    return StaffFactory(first_name="Adam", last_name="Hobson", roles=[SUPPORT])


@pytest.fixture
def viewer(db):
    """A staff member with no role: may look customers up, nothing more."""
    return StaffFactory(first_name="Vera", last_name="Viewer")


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


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
