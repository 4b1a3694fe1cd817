"""Wherever the portal waits, it says so: the region it will fill is aria-busy, the button that sent
the request shows a spinner and what it is doing, and it cannot be pressed twice.

A slow network is a request held back (Playwright's routing) until the test has looked; nothing is
timed.
"""

import re

import pytest
from playwright.sync_api import Page, Route, expect

from accounts.demo import STAFF_EMAIL, STAFF_PASSWORD
from tests.browser.helpers import WIDE, log_in, partial_refund, payment_row, search_box

pytestmark = pytest.mark.browser


class HeldRequests:
    """Requests matching a URL pattern and method, held until `release`."""

    def __init__(self, page: Page, pattern: str, method: str):
        self.page, self.pattern, self.method, self.routes = page, pattern, method, []
        page.route(pattern, self._hold)

    def _hold(self, route: Route) -> None:
        if route.request.method == self.method:
            self.routes.append(route)
        else:
            route.continue_()

    def release(self) -> None:
        self.page.wait_for_function("() => true")  # let Playwright deliver the held route
        assert self.routes, f"no {self.method} request to {self.pattern} was sent"
        for route in self.routes:
            route.continue_()
        self.page.unroute(self.pattern)


@pytest.fixture
def staff_on_payments(page: Page, demo_portal) -> Page:
    page.set_viewport_size(WIDE)
    log_in(page, STAFF_EMAIL, STAFF_PASSWORD)
    page.goto(f"/users/{demo_portal.pk}/payments/")
    return page


def test_a_search_shows_it_is_searching(page: Page, demo_portal):
    log_in(page, STAFF_EMAIL, STAFF_PASSWORD)
    held = HeldRequests(page, re.compile(r"/users/\?q="), "GET")

    search_box(page).press_sequentially("elij", delay=20)

    expect(page.locator("#user-results")).to_have_attribute("aria-busy", "true")
    expect(page.locator("#search-spinner")).to_have_css("opacity", "1")
    held.release()
    expect(page.get_by_role("link", name="Elijah Herrick", exact=True)).to_be_visible()
    expect(page.locator("#user-results")).not_to_have_attribute("aria-busy", "true")


def test_saving_credits_shows_a_spinner_on_the_save_button(staff_on_payments: Page, screenshot):
    page = staff_on_payments
    held = HeldRequests(page, "**/credits/", "POST")
    page.get_by_label("Credits", exact=True).fill("150")

    page.get_by_role("button", name="Save credits").click()

    save = page.get_by_role("button", name="Save credits")
    expect(save).to_be_disabled()
    expect(save).to_have_class(re.compile(r"\bis-busy\b"))
    expect(page.locator("#payment-info")).to_have_attribute("aria-busy", "true")
    screenshot("busy-credits")
    held.release()
    expect(page.locator("#payment-info").get_by_role("status")).to_contain_text("from 120 to 150")
    expect(page.get_by_role("button", name="Save credits")).to_be_enabled()


def test_opening_the_refund_dialog_and_executing_a_refund_show_they_are_working(staff_on_payments: Page, screenshot):
    page = staff_on_payments
    row = payment_row(page, "pi_sandbox_elijah_3")
    actions = row.get_by_role("button", name="Payment actions")
    held = HeldRequests(page, "**/refund/", "GET")
    actions.click()
    row.get_by_role("menuitem", name="Create refund").click()

    # Opening: the menu button shows a spinner and keeps focus until the dialog comes.
    expect(actions).to_have_attribute("aria-busy", "true")
    expect(actions).to_be_focused()
    held.release()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator("form")).to_be_visible()
    expect(actions).not_to_have_attribute("aria-busy", "true")

    # Executing: "Refunding $12.50…" with a spinner, disabled, the panel aria-busy.
    partial_refund(dialog, "12.50")
    held = HeldRequests(page, "**/refund/", "POST")
    submit = dialog.locator("form button[type=submit]")
    submit.click()
    expect(submit).to_have_text("Refunding $12.50…")
    expect(submit).to_be_disabled()
    expect(submit.locator(".spinner")).to_be_visible()
    expect(dialog.locator("#refund-panel")).to_have_attribute("aria-busy", "true")
    screenshot("busy-refunding", full_page=False)
    held.release()
    expect(dialog.get_by_role("heading", name="Success!")).to_be_visible()


def test_an_approval_shows_it_is_approving(page: Page, demo_portal):
    page.set_viewport_size(WIDE)
    log_in(page, STAFF_EMAIL, STAFF_PASSWORD)
    page.goto("/approvals/")
    held = HeldRequests(page, re.compile(r"/approvals/\d+/approve/$"), "POST")
    approve = page.get_by_role("button", name="Approve and refund")

    approve.click()

    expect(page.get_by_role("button", name="Approving…")).to_be_disabled()
    held.release()
    expect(page.get_by_role("button", name="Approve and refund")).to_have_count(0)
    row = page.locator("tr[id^=approval-]")
    expect(row).not_to_have_attribute("aria-busy", "true")
    # The button pressed went with the old row: focus is on the new one, and it is read out.
    expect(row).to_be_focused()
    expect(page.locator("#announcer")).to_contain_text("Decision:")
