"""Markup typed into the portal stays text in a real browser: no script runs, nothing is loaded.

A customer whose name, email, payment description, credit note and text message carry a script
tag, an attribute breakout with an event handler and template syntax; a staff member searches
for them, opens each tab, gets the credits editor and the refund dialog to show errors about
that markup, and executes a refund whose note carries it. Any of it parsed as HTML would set
`window.__xss`, load `/x` (the broken image) or be reported by the CSP listener (the page fixture
fails the test on any CSP violation or console error).
"""

import pytest
from django.test import Client
from playwright.sync_api import BrowserContext, Page, expect

from accounts.roles import FINANCE
from notifications.models import SmsMessage
from payments.services import credits_adjust
from tests.browser.helpers import search_box
from tests.factories import CustomerFactory, PaymentFactory, SmsMessageFactory, purchase_record
from tests.people import staff_with_role

pytestmark = pytest.mark.browser

SCRIPT = "<script>window.__xss=1</script>"
BREAKOUT = '"><img src=x onerror="window.__xss=2">'
TEMPLATE = "{{ 7|add:42 }}"


@pytest.fixture
def victim(transactional_db):
    customer = CustomerFactory(first_name=SCRIPT, last_name=BREAKOUT + TEMPLATE, email="victim@example.com")
    purchase_record(PaymentFactory(user=customer, description=SCRIPT + BREAKOUT, gateway_id="pi_sandbox_xss_1"))
    return customer


@pytest.fixture
def finance_page(page: Page, context: BrowserContext, live_server, victim) -> Page:
    staff = staff_with_role(FINANCE, first_name="Fran", last_name="Finance", email="fran@statstak.test")
    credits_adjust(user=victim, new_balance=450, expected_balance=500, actor=staff, note=SCRIPT + TEMPLATE)
    SmsMessageFactory(user=victim, body=BREAKOUT + TEMPLATE, status=SmsMessage.Status.FAILED, last_error=SCRIPT)
    client = Client()
    client.force_login(staff)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    return page


def assert_nothing_ran(page: Page, loaded: list[str]) -> None:
    assert page.evaluate("typeof window.__xss") == "undefined", "an injected script ran"
    assert loaded == [], f"injected markup loaded {loaded}"


def test_markup_typed_anywhere_stays_text(finance_page: Page, page_problems, screenshot):
    page = finance_page
    loaded: list[str] = []
    page.on("request", lambda request: loaded.append(request.url) if request.url.endswith("/x") else None)
    full_name = f"{SCRIPT} {BREAKOUT}{TEMPLATE}"

    # Users: search for the script tag as typed; the results and the caption show it as text.
    page.goto("/users/")
    search_box(page).fill(SCRIPT)
    results = page.get_by_role("table", name=f"Users matching “{SCRIPT}”", exact=True)
    expect(results.get_by_role("link", name=full_name, exact=True)).to_be_visible()
    assert_nothing_ran(page, loaded)
    screenshot("34-xss-search")

    # The profile and its tabs.
    results.get_by_role("link", name=full_name, exact=True).click()
    expect(page.get_by_role("heading", name=full_name, level=1)).to_be_visible()
    tabs = page.get_by_role("navigation", name="Profile sections")
    tabs.get_by_role("link", name="Activity").click()
    expect(page.get_by_role("region", name="Credit history")).to_contain_text(SCRIPT + TEMPLATE)
    expect(page.get_by_role("region", name="Notifications")).to_contain_text(BREAKOUT + TEMPLATE)
    assert_nothing_ran(page, loaded)
    tabs.get_by_role("link", name="Payments").click()
    expect(page.get_by_role("heading", name="Past payments")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="pi_sandbox_xss_1")).to_contain_text(SCRIPT + BREAKOUT)

    # The credits editor refuses the markup and shows it back as typed.
    credits = page.get_by_label("Credits", exact=True)
    credits.fill(SCRIPT)
    page.get_by_role("button", name="Save credits").click()
    expect(page.get_by_role("alert")).to_contain_text("Enter a whole number of credits")
    expect(credits).to_have_value(SCRIPT)
    assert_nothing_ran(page, loaded)

    # The refund dialog: errors first, then a refund whose note carries the markup.
    row = page.get_by_role("row").filter(has_text="pi_sandbox_xss_1")
    row.get_by_role("button", name="Payment actions").click()
    row.get_by_role("menuitem", name="Create refund").click()
    expect(page.get_by_role("dialog", name="Create refund")).to_be_visible()
    dialog = page.get_by_role("dialog")  # its title follows the refund's state ("Refund sent")
    expect(dialog).to_contain_text(SCRIPT + BREAKOUT)  # the payment's description
    dialog.get_by_role("group", name="Type").get_by_label("Partial refund").check()
    dialog.get_by_label("Amount").fill(BREAKOUT)
    dialog.get_by_label("Reason").select_option(label="Other")
    dialog.get_by_label("Note").fill(SCRIPT + BREAKOUT + TEMPLATE)
    dialog.get_by_label("Notify the customer by SMS").uncheck()
    dialog.get_by_role("button", name="Execute refund").click()
    expect(dialog.get_by_role("alert").first).to_be_visible()
    expect(dialog.get_by_label("Amount")).to_have_value(BREAKOUT)
    expect(dialog.get_by_label("Note")).to_have_value(SCRIPT + BREAKOUT + TEMPLATE)
    assert_nothing_ran(page, loaded)
    screenshot("35-xss-refund-errors")

    dialog.get_by_label("Amount").fill("5.00")
    dialog.get_by_role("button", name="Execute refund").click()
    expect(dialog.get_by_role("heading", name="Success!")).to_be_visible()
    expect(dialog).to_contain_text(SCRIPT + BREAKOUT + TEMPLATE)
    assert_nothing_ran(page, loaded)
    dialog.get_by_role("button", name="Continue").click()
    expect(dialog).to_be_hidden()
    assert_nothing_ran(page, loaded)
    # 422s from the forms above are expected; the fixture fails the test on any other console error.
    page_problems.console_errors[:] = [e for e in page_problems.console_errors if "status of 422" not in e]
