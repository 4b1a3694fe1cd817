"""What staff never see but would suffer from: script errors, and a CSP that blocks the portal."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import log_in, result_names, search_box, url_path

pytestmark = pytest.mark.browser


def test_the_portal_runs_without_console_errors_or_csp_violations(page: Page, page_problems, staff_member, customers):
    response = page.goto("/login/")
    csp = response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp
    assert "'unsafe-eval'" not in csp

    log_in(page, "adam@statstak.test")
    expect(page).to_have_url(url_path("/users/"))
    search_box(page).press_sequentially("elij", delay=40)
    expect(result_names(page, "elij")).to_have_count(2)
    result_names(page, "elij").get_by_text("Elijah Herrick", exact=True).click()
    expect(page.get_by_role("heading", name="Elijah Herrick", level=1)).to_be_visible()
    tabs = page.get_by_role("navigation", name="Profile sections")
    for name in ["Payments", "Activity", "Overview"]:
        tabs.get_by_role("link", name=name, exact=True).click()
        expect(tabs.get_by_role("link", name=name, exact=True)).to_have_attribute("aria-current", "page")
    page.go_back()
    expect(tabs.get_by_role("link", name="Activity", exact=True)).to_have_attribute("aria-current", "page")
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(url_path("/login/"))

    assert page.evaluate("window.__cspViolations") == []
    assert page_problems.csp_violations == []
    assert page_problems.console_errors == []
    assert page_problems.page_errors == []


def test_the_watch_for_csp_violations_catches_one(page: Page, page_problems):
    """The check above is only worth something if a violation would be seen."""
    page.goto("/login/")

    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.__inlineRan = true";
          document.body.append(script);
        }"""
    )

    page.wait_for_function("window.__cspViolations.length > 0")
    assert page.evaluate("window.__inlineRan") is None, "an inline script ran despite the CSP"
    violations = page.evaluate("window.__cspViolations")
    assert [violation["directive"] for violation in violations] == ["script-src-elem"]
    assert page_problems.csp_violations == violations
    assert any("Content Security Policy" in error for error in page_problems.console_errors)
    # Handled: the page fixture's check after the test must not count it.
    page_problems.csp_violations.clear()
    page_problems.console_errors.clear()


def test_the_users_list_fits_a_phone_screen(staff_page: Page, customers, screenshot):
    staff_page.set_viewport_size({"width": 390, "height": 844})
    staff_page.goto("/users/")
    expect(result_names(staff_page, "")).to_have_count(6)
    screenshot("19-users-phone-width")

    page_width, window_width = staff_page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert page_width <= window_width, "the page scrolls sideways"
