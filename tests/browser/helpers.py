"""What the browser tests do over and over, in the words a staff member would use."""

import re

from playwright.sync_api import Locator, Page, expect

from tests.factories import STAFF_PASSWORD

# The two screens every main page is checked and photographed at: a laptop, and a phone.
WIDE = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


def log_in(page: Page, email: str, password: str = STAFF_PASSWORD) -> None:
    page.goto("/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def url_path(path: str) -> re.Pattern[str]:
    """The page's URL, whatever the live server's host and port, ending with `path` exactly."""
    return re.compile(r"^https?://[^/]+" + re.escape(path) + "$")


def search_box(page: Page) -> Locator:
    return page.get_by_role("searchbox", name="Search users")


def main_nav_link(page: Page, name: str) -> Locator:
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def header_unfold(page: Page) -> None:
    """On a phone the header's sections and Log out are folded behind its Menu button: open it."""
    toggle = page.get_by_role("button", name="Menu", exact=True)
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false":
        toggle.click()


def main_nav_open(page: Page, name: str) -> None:
    """Go to a section from the header (on a phone, through its Menu)."""
    header_unfold(page)
    main_nav_link(page, name).click()


def result_names(page: Page, query: str) -> Locator:
    """The name links in the results table for `query` (its caption names it)."""
    caption = f"Users matching “{query}”" if query else "Newest users"
    return page.get_by_role("table", name=caption, exact=True).get_by_role("link")


def mark_document(page: Page) -> None:
    """Tag the current document; `document_was_kept` tells whether a full page load replaced it."""
    page.evaluate("window.__sameDocument = true")


def document_was_kept(page: Page) -> bool:
    return page.evaluate("window.__sameDocument === true")


# axe-core as the axe-playwright-python package ships it (a pinned dev dependency): injected with
# `page.evaluate`, which the page's Content-Security-Policy does not apply to (no <script> is added).
def axe_violations(page: Page, state: str) -> list[str]:
    """Every axe-core violation on the page as it is now, of any impact, one line each, named by `state`.

    All rules that axe-core runs by default (WCAG 2.0-2.2 A and AA, and its best practices), and
    target-size."""
    from axe_playwright_python.base import AXE_SCRIPT

    page.wait_for_load_state("load")  # styles applied: contrast is measured as staff see the page
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT)
    # target-size (WCAG 2.2 AA 2.5.8, targets of at least 24 by 24 px) is off in axe-core by default.
    results = page.evaluate("axe.run(document, {resultTypes: ['violations'], rules: {'target-size': {enabled: true}}})")
    return [
        f"{state}: {violation['id']} ({violation['impact']}) {node['target']} {node['failureSummary']!r}"
        for violation in results["violations"]
        for node in violation["nodes"]
    ]


def profile_tab(page: Page, name: str):
    return page.get_by_role("navigation", name="Profile sections").get_by_role("link", name=name, exact=True)


def payment_row(page: Page, gateway_id: str):
    return page.get_by_role("row").filter(has_text=gateway_id)


def open_refund_dialog(page: Page, gateway_id: str):
    row = payment_row(page, gateway_id)
    row.get_by_role("button", name="Payment actions").click()
    row.get_by_role("menuitem", name="Create refund").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator("form")).to_be_visible()
    return dialog


def partial_refund(dialog, amount: str) -> None:
    partial = dialog.get_by_label("Partial refund")
    if partial.count():
        partial.check()
    dialog.get_by_label("Amount").fill(amount)
    dialog.get_by_label("Reason").select_option(label="Requested by customer")
