"""Every main page on a laptop (1366 x 900) and on a phone (390 x 844): nothing scrolls sideways, tables
stack into rows, the refund dialog fits the screen, and a refund can be executed on the phone.

Each step is photographed: artifacts/screenshots/wide-*.png and phone-*.png (CI keeps them).
"""

import pytest
from playwright.sync_api import Page, expect

from accounts.demo import STAFF_EMAIL, STAFF_PASSWORD
from tests.browser.helpers import (
    PHONE,
    WIDE,
    log_in,
    main_nav_open,
    open_refund_dialog,
    partial_refund,
    payment_row,
    profile_tab,
    result_names,
    search_box,
)

pytestmark = pytest.mark.browser


# The innermost elements that reach past the window's right edge: what to fix when a page is too wide.
TOO_WIDE = """() => {
  const past = (el) => el.getBoundingClientRect().right > window.innerWidth + 0.5;
  return [...document.querySelectorAll("body *")]
    .filter((el) => past(el) && ![...el.children].some(past) && !el.closest("thead, .visually-hidden"))
    .slice(0, 5)
    .map((el) => `${el.outerHTML.slice(0, 80)}… (right edge ${Math.round(el.getBoundingClientRect().right)} px)`);
}"""


def sideways_scroll(page: Page) -> str:
    """What makes the page wider than the window ("": it does not scroll sideways)."""
    width, window = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
    if width <= window:
        return ""
    culprits = page.evaluate(TOO_WIDE)
    return f"{width - window} px too wide: {', '.join(culprits)}"


@pytest.mark.parametrize("screen", ["wide", "phone"])
def test_every_main_page_fits_the_screen_and_a_refund_can_be_executed(page: Page, demo_portal, screenshot, screen: str):
    page.set_viewport_size(WIDE if screen == "wide" else PHONE)
    overflowing: dict[str, str] = {}

    def check(name: str, *, full_page: bool = True) -> None:
        page.wait_for_load_state("load")  # the stylesheet applied: measured as staff see the page
        if extra := sideways_scroll(page):
            overflowing[name] = extra
        screenshot(f"{screen}-{name}", full_page=full_page)

    page.goto("/login/")
    check("01-login")
    log_in(page, STAFF_EMAIL, STAFF_PASSWORD)
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    check("02-users")
    search_box(page).press_sequentially("elij", delay=20)
    expect(result_names(page, "elij").get_by_text("Elijah Herrick", exact=True)).to_be_visible()
    check("03-users-search")
    page.get_by_role("link", name="Elijah Herrick", exact=True).click()
    expect(page.get_by_role("heading", name="Elijah Herrick", level=1)).to_be_visible()
    check("04-profile-overview")
    profile_tab(page, "Payments").click()
    expect(page.get_by_role("heading", name="Past payments")).to_be_visible()
    check("05-profile-payments")

    # The last row's menu opens whole, inside the window, not clipped by the table.
    row = payment_row(page, "pi_sandbox_elijah_1")
    row.get_by_role("button", name="Payment actions").click()
    item = row.get_by_role("menuitem", name="Create refund")
    expect(item).to_be_visible()
    box = item.bounding_box()
    viewport = page.viewport_size
    assert box and box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= viewport["width"] and box["y"] + box["height"] <= viewport["height"]
    assert (
        page.evaluate(
            "el => document.elementFromPoint(el.x, el.y)?.textContent.trim()",
            {
                "x": box["x"] + box["width"] / 2,
                "y": box["y"] + box["height"] / 2,
            },
        )
        == "Create refund"
    ), "the menu is covered or clipped"
    check("06-payment-menu-last-row", full_page=False)
    page.keyboard.press("Escape")

    dialog = open_refund_dialog(page, "pi_sandbox_elijah_3")
    box = dialog.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"] + 0.5, "the dialog is wider than the screen"
    assert box["y"] >= 0 and box["y"] + box["height"] <= viewport["height"] + 0.5, (
        "the dialog is taller than the screen"
    )
    check("07-refund-dialog", full_page=False)
    partial_refund(dialog, "12.50")
    submit = dialog.locator("form button[type=submit]")
    submit.scroll_into_view_if_needed()
    check("08-refund-dialog-filled", full_page=False)
    submit.click()
    expect(dialog.get_by_role("heading", name="Success!")).to_be_visible()
    check("09-refund-success", full_page=False)
    dialog.get_by_role("button", name="Continue").click()
    expect(dialog).to_be_hidden()
    expect(payment_row(page, "pi_sandbox_elijah_3")).to_contain_text("Partially refunded")
    check("10-payments-after-refund")

    profile_tab(page, "Activity").click()
    expect(page.get_by_role("heading", name="Credit history")).to_be_visible()
    check("11-profile-activity")
    for number, name in enumerate(["Approvals", "Audit log", "Books", "Staff"], start=12):
        main_nav_open(page, name)
        expect(page.locator(".mainnav [aria-current=page]")).to_have_text(name)
        check(f"{number}-{name.lower().replace(' ', '-')}")

    assert overflowing == {}, f"pages wider than the {screen} screen: {overflowing}"


def test_on_a_phone_the_header_folds_behind_a_menu_button(page: Page, demo_portal):
    page.set_viewport_size(PHONE)
    log_in(page, STAFF_EMAIL, STAFF_PASSWORD)
    header = page.get_by_role("banner")
    menu = header.get_by_role("button", name="Menu", exact=True)
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(page.get_by_role("navigation", name="Main")).to_be_hidden()
    assert header.bounding_box()["height"] <= 64

    menu.click()

    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("navigation", name="Main").get_by_role("link", name="Users")).to_be_focused()
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Books").click()
    expect(page.get_by_role("heading", name="Books", level=1)).to_be_visible()
