"""The help article's 11 steps with the keyboard alone, checking where focus is after each.

../shared/seed/how-to-edit-user-credits-and-create-refunds.txt: Users → search → the user's name →
Payments → Credits → save → the three dots → Create refund → Type, Amount, Reason → Execute refund
→ Success! → Continue. Only Tab, Shift+Tab, arrows, Enter, Escape and typing: no clicks. Focus is
never lost (to the page's start) after a swap, and what changed is read out (#announcer).
"""

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from accounts.demo import STAFF_EMAIL, STAFF_PASSWORD
from payments.models import Payment
from tests.browser.helpers import WIDE, url_path

pytestmark = pytest.mark.browser

# Far more than any step needs; a control not reached in this many presses is not reachable.
MAX_TABS = 40


def tab_to(page: Page, target: Locator, *, key: str = "Tab") -> int:
    """Press Tab until `target` has focus; how many presses it took. Fails if it never does."""
    for presses in range(1, MAX_TABS + 1):
        page.keyboard.press(key)
        if target.evaluate("el => el === document.activeElement"):
            return presses
    raise AssertionError(f"{target} never got focus in {MAX_TABS} presses of {key}")


def focused(page: Page) -> Locator:
    return page.locator("*:focus")


def focus_is_visible(page: Page) -> bool:
    """The focused element is on the screen (not scrolled away, not under anything)."""
    return page.evaluate(
        """() => {
          const el = document.activeElement;
          const box = el.getBoundingClientRect();
          const x = box.left + Math.min(box.width / 2, 10), y = box.top + Math.min(box.height / 2, 10);
          if (box.bottom < 0 || box.top > window.innerHeight) return false;
          const top = document.elementFromPoint(x, y);
          return !!top && (el.contains(top) || top.contains(el) || top.closest("label")?.control === el);
        }"""
    )


def announced(page: Page) -> Locator:
    return page.locator("#announcer")


def test_the_help_article_with_the_keyboard_alone(page: Page, demo_portal, screenshot):
    page.set_viewport_size(WIDE)
    elijah = demo_portal
    payment = Payment.objects.get(gateway_id="pi_sandbox_elijah_3")

    # 1. Log in, then Users in the main navigation.
    page.goto("/login/")
    expect(page.get_by_label("Email")).to_be_focused()
    page.keyboard.type(STAFF_EMAIL)
    page.keyboard.press("Tab")
    page.keyboard.type(STAFF_PASSWORD)
    page.keyboard.press("Enter")
    expect(page).to_have_url(url_path("/users/"))
    users = page.get_by_role("navigation", name="Main").get_by_role("link", name="Users", exact=True)
    tab_to(page, users)
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    expect(page).to_have_url(url_path("/users/"))
    # The page opens with focus in its search box.
    search = page.get_by_role("searchbox", name="Search users")
    expect(search).to_be_focused()

    # 2. Search by first name: the results come, focus stays in the box.
    page.keyboard.type("elij", delay=30)
    result = page.get_by_role("link", name="Elijah Herrick", exact=True)
    expect(result).to_be_visible()
    expect(search).to_be_focused()

    # 3. The user's name opens the profile.
    tab_to(page, result)
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Elijah Herrick", level=1)).to_be_visible()

    # 4. The Payments tab: focus moves to the panel it shows, named for it; the next Tab is inside it.
    payments_tab = page.get_by_role("navigation", name="Profile sections").get_by_role("link", name="Payments")
    tab_to(page, payments_tab)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Payment info")).to_be_visible()
    expect(focused(page)).to_have_attribute("aria-label", "Payments")
    expect(focused(page)).to_have_class(re.compile(r"\btab-panel\b"))
    page.keyboard.press("Tab")
    credits = page.get_by_label("Credits", exact=True)
    expect(credits).to_be_focused()
    screenshot("keyboard-04-payments-tab")

    # 5. Credits: type the new balance.
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("150")
    expect(credits).to_have_value("150")

    # 6. Save (the blue icon): focus comes back to the field, and the result is read out.
    save = page.get_by_role("button", name="Save credits")
    page.keyboard.press("Tab")
    expect(save).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#payment-info").get_by_role("status")).to_contain_text("from 120 to 150")
    expect(page.get_by_label("Credits", exact=True)).to_be_focused()
    expect(announced(page)).to_contain_text("Saved. Credits went from 120 to 150.")
    assert focus_is_visible(page)
    screenshot("keyboard-06-credits-saved")

    # 7. The three dots of the payment, named for it: the menu opens on its first item.
    actions = page.get_by_role("button", name="Payment actions: Plus pack — 250 credits, Sep 22, 2026")
    tab_to(page, actions)
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    create = page.get_by_role("menuitem", name="Create refund")
    expect(create).to_be_focused()
    expect(actions).to_have_attribute("aria-expanded", "true")
    screenshot("keyboard-07-menu")

    # 8. Create refund: the dialog opens with focus inside it.
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog.locator("form")).to_be_visible()
    assert dialog.evaluate("d => d.contains(document.activeElement)")

    # 9. Type, Amount, Reason.
    partial = dialog.get_by_label("Partial refund")
    if partial.count():  # the Type choice: Tab reaches the group, arrows move through it and check
        radios = dialog.locator("input[name=type]")
        checked = dialog.locator("input[name=type]:checked")
        entry = checked if checked.count() else radios.first  # nothing may be chosen yet
        if not entry.evaluate("el => el === document.activeElement"):
            tab_to(page, entry)
        for _ in range(radios.count()):
            if partial.is_checked():
                break
            page.keyboard.press("ArrowRight")
        expect(partial).to_be_checked()
        expect(partial).to_be_focused()
    amount = dialog.get_by_label("Amount")
    tab_to(page, amount)
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type("12.50")
    reason = dialog.get_by_label("Reason")
    tab_to(page, reason)
    page.keyboard.type("Requested")  # a select's type-ahead
    expect(reason).to_have_value("requested_by_customer")
    screenshot("keyboard-09-details", full_page=False)

    # 10. Execute refund.
    execute = dialog.locator("form button[type=submit]")
    tab_to(page, execute)
    assert focus_is_visible(page)
    page.keyboard.press("Enter")

    # 11. Success! has focus and is read out; Continue returns focus to this payment's (new) button,
    # and its refreshed row is read out.
    success = dialog.get_by_role("heading", name="Success!")
    expect(success).to_be_focused()
    expect(announced(page)).to_contain_text("Success!")
    screenshot("keyboard-11-success", full_page=False)
    continue_button = dialog.get_by_role("button", name="Continue")
    tab_to(page, continue_button)
    page.keyboard.press("Enter")
    expect(dialog).to_be_hidden()
    expect(focused(page)).to_have_attribute("id", f"payment-actions-{payment.pk}")
    assert focus_is_visible(page)
    expect(announced(page)).to_contain_text("Partially refunded")
    expect(announced(page)).to_contain_text("$12.50")
    elijah.refresh_from_db()
    assert elijah.credits == 70
    screenshot("keyboard-11-after-continue")

    # And the next Tab goes on from there, not from the top of the page.
    page.keyboard.press("Tab")
    expect(focused(page)).not_to_have_text("Skip to main content")
    assert page.evaluate("document.activeElement.closest('#past-payments') !== null")


def test_the_row_menu_follows_the_menu_button_pattern(page: Page, demo_portal):
    page.set_viewport_size(WIDE)
    page.goto("/login/")
    page.get_by_label("Email").fill(STAFF_EMAIL)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.goto(f"/users/{demo_portal.pk}/payments/")
    actions = page.get_by_role("button", name="Payment actions: Pro pack — 500 credits, Oct 17, 2025")
    actions.focus()

    page.keyboard.press("ArrowDown")
    items = page.locator("#past-payments [role=menu]:not([hidden]) [role=menuitem]")
    expect(items).to_have_text(["Create refund", "View refunds"])
    expect(items.first).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(items.last).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(items.first).to_be_focused()
    page.keyboard.press("End")
    expect(items.last).to_be_focused()
    page.keyboard.press("Home")
    expect(items.first).to_be_focused()
    page.keyboard.press("Escape")
    expect(items).to_have_count(0)
    expect(actions).to_be_focused()
    expect(actions).to_have_attribute("aria-expanded", "false")

    page.keyboard.press("ArrowUp")
    expect(items.last).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog", name="Refunds")).to_be_visible()
    page.keyboard.press("Escape")
    expect(actions).to_be_focused()
