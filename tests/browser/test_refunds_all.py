"""The Refunds page in a real browser: from the main navigation, filtered, to the payment."""

import pytest
from django.test import Client
from playwright.sync_api import BrowserContext, Page, expect

from accounts.roles import FINANCE
from refunds.models import Refund
from tests.browser.helpers import axe_violations
from tests.factories import CustomerFactory, PaymentFactory, RefundFactory, StaffFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def finance_page(page: Page, context: BrowserContext, live_server, transactional_db) -> Page:
    fran = StaffFactory(first_name="Fran", last_name="Finance", roles=[FINANCE])
    client = Client()
    client.force_login(fran)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    return page


def test_filter_the_refunds_and_open_a_payment(finance_page: Page, page_problems, screenshot):
    page = finance_page
    elijah = CustomerFactory(first_name="Elijah", last_name="Herrick", email="elijah.herrick@example.com")
    failed = RefundFactory(payment=PaymentFactory(user=elijah, gateway_id="pi_sandbox_elijah_9"), status="failed")
    RefundFactory(status=Refund.Status.SUCCEEDED)

    page.goto("/users/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Refunds").click()
    expect(page.get_by_role("heading", name="Refunds", level=1)).to_be_visible()
    expect(page.locator("tbody tr")).to_have_count(2)
    found = axe_violations(page, "refunds across customers")
    screenshot("refunds-across-customers")

    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_label("Amount from").fill("ten")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose a currency")
    # The form with its error comes back as a 422, which Chromium logs; that one is expected.
    page_problems.console_errors[:] = [e for e in page_problems.console_errors if "status of 422" not in e]
    found += axe_violations(page, "refunds with a filter error")
    assert found == [], "\n".join(found)

    page.get_by_label("Currency").select_option("USD")
    page.get_by_label("Amount from").fill("25.00")
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name="Payment pi_sandbox_elijah_9").click()
    expect(page.get_by_role("heading", name="Past payments")).to_be_visible()
    assert page.url.endswith(f"/users/{elijah.pk}/payments/#payment-{failed.payment_id}")
