"""The Staff page shows each member's money limits."""

import pytest
from django.urls import reverse

from accounts.roles import ADMINISTRATOR, FINANCE, SUPPORT
from tests.factories import StaffFactory

pytestmark = pytest.mark.django_db


def test_the_staff_page_shows_each_members_limits(client):
    admin = StaffFactory(roles=[ADMINISTRATOR])
    StaffFactory(first_name="Sue", roles=[SUPPORT], passwordless=True)
    StaffFactory(first_name="Fin", roles=[FINANCE], passwordless=True)
    client.force_login(admin)
    page = client.get(reverse("staff_list")).content.decode()
    assert '<th scope="col">Limits</th>' in page
    assert "Credits: 500 an edit, 1,000 a day per customer, 2,000 a day in all" in page
    assert "Credits: no Support limits" in page
    assert "changes over 1,000 credits need a second person" in page
    assert (
        "Refunds: $5,000.00 a day; over $500.00 (alone, or with the last 24 hours&#x27; refunds on the payment or "
        "customer) needs a second person" in page
    )
    assert "Approves others&#x27; refunds and credit changes, never their own or to their own account" in page
