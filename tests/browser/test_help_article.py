"""The help article, steps 1-11, in order, by the labels it uses, on the demo data.

`../shared/seed/how-to-edit-user-credits-and-create-refunds.txt`: Users → search → the user's
name → Payments → Credits → save → more_horiz → Create refund → Type, Amount, Reason →
Execute refund → Success! → Continue.
"""

import re

import pytest
from django.core.management import call_command
from playwright.sync_api import Browser, Page, expect

from accounts.demo import STAFF_EMAIL, STAFF_PASSWORD
from notifications.models import SmsMessage
from notifications.sending import sms_send
from tests.browser.helpers import log_in, main_nav_link, search_box

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_data(transactional_db):
    call_command("seed_demo", users=60)


def open_elijahs_payments(page: Page) -> None:
    main_nav_link(page, "Users").click()
    search_box(page).press_sequentially("elij", delay=30)
    page.get_by_role("link", name="Elijah Herrick", exact=True).click()
    page.get_by_role("navigation", name="Profile sections").get_by_role("link", name="Payments").click()
    expect(page.get_by_role("heading", name="Payment info")).to_be_visible()


def test_the_help_article_step_by_step(page: Page, demo_data, screenshot):
    # 1. Log in, click Users.
    log_in(page, STAFF_EMAIL, STAFF_PASSWORD)
    screenshot("help-01-logged-in")
    main_nav_link(page, "Users").click()
    expect(main_nav_link(page, "Users")).to_have_attribute("aria-current", "page")

    # 2. Search by first name.
    search_box(page).press_sequentially("elij", delay=30)
    elijah = page.get_by_role("link", name="Elijah Herrick", exact=True)
    expect(elijah).to_be_visible()
    screenshot("help-02-search")

    # 3. Open the profile.
    elijah.click()
    expect(page.get_by_role("heading", name="Elijah Herrick", level=1)).to_be_visible()
    screenshot("help-03-profile")

    # 4. The Payments tab: Payment info and Past payments.
    page.get_by_role("navigation", name="Profile sections").get_by_role("link", name="Payments").click()
    expect(page.get_by_role("heading", name="Payment info")).to_be_visible()
    expect(page.get_by_role("heading", name="Past payments")).to_be_visible()
    screenshot("help-04-payments")

    # 5-6. Change Credits and click the blue save icon.
    credits = page.get_by_label("Credits", exact=True)
    expect(credits).to_have_value("120")
    credits.fill("150")
    page.get_by_role("button", name="Save credits").click()
    expect(page.get_by_role("status").filter(has_text="Saved.")).to_contain_text("from 120 to 150")
    expect(page.locator("#profile-credits")).to_have_text("150")
    recent = page.get_by_role("region", name="Recent credit changes")
    expect(recent.get_by_role("row").nth(1)).to_contain_text("Adjustment")
    expect(recent.get_by_role("row").nth(1)).to_contain_text("Adam Hobson")
    screenshot("help-06-credits-saved")

    # 7. The three dots of a past payment.
    row = page.get_by_role("row").filter(has_text="pi_sandbox_elijah_3")
    row.get_by_role("button", name="Payment actions").click()
    expect(row.get_by_role("menuitem", name="Create refund")).to_be_visible()
    screenshot("help-07-menu")

    # 8. Create refund opens the modal.
    row.get_by_role("menuitem", name="Create refund").click()
    expect(page.get_by_role("dialog", name="Create refund")).to_be_visible()
    # The dialog's title follows the refund's state ("Refund sent" once it went through): the
    # steps below find it as the one open dialog.
    dialog = page.get_by_role("dialog")
    screenshot("help-08-modal")

    # 9. Type, Amount, Reason.
    dialog.get_by_role("group", name="Type").get_by_label("Partial refund").check()
    dialog.get_by_label("Amount").fill("12.50")
    dialog.get_by_label("Reason").select_option(label="Requested by customer")
    expect(dialog.get_by_label("Also remove purchased credits")).to_have_value("80")
    expect(dialog.locator("#credits-preview")).to_have_text(re.compile(r"Balance 150 → 70 credits"))
    screenshot("help-09-details")

    # 10. Execute refund.
    dialog.get_by_role("button", name="Execute refund").click()

    # 11. Success! and Continue.
    expect(dialog.get_by_role("heading", name="Success!")).to_be_visible()
    expect(page.get_by_role("dialog", name="Refund sent")).to_be_visible()
    expect(dialog).to_contain_text("$12.50 was refunded")
    expect(dialog).to_contain_text("An SMS notification is on its way")
    screenshot("help-11-success")
    dialog.get_by_role("button", name="Continue").click()
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text("Partially refunded")
    expect(row).to_contain_text("$12.50")
    expect(page.locator("#profile-credits")).to_have_text("70")
    expect(page.get_by_label("Credits", exact=True)).to_have_value("70")
    screenshot("help-11-after-continue")

    # The Activity tab shows the refund and the SMS; once the worker sends it, "Sent".
    page.get_by_role("navigation", name="Profile sections").get_by_role("link", name="Activity").click()
    history = page.get_by_role("region", name="Credit history")
    expect(history.get_by_role("row").nth(1)).to_contain_text("Refund")
    expect(history.get_by_role("row").nth(1)).to_contain_text("-$12.50")
    notifications = page.get_by_role("region", name="Notifications")
    expect(notifications).to_contain_text("Queued")
    expect(notifications).to_contain_text("we refunded $12.50")
    message = SmsMessage.objects.get(user__email="elijah.herrick@example.com")
    sms_send(message_id=message.pk)  # what the queue worker does with the job
    page.reload()
    expect(page.get_by_role("region", name="Notifications")).to_contain_text("Sent")
    screenshot("help-12-activity")


def test_a_stale_second_tab_gets_the_credits_conflict(browser: Browser, page: Page, live_server, demo_data):
    log_in(page, STAFF_EMAIL, STAFF_PASSWORD)
    open_elijahs_payments(page)
    other = page.context.browser.new_context(base_url=live_server.url)
    try:
        second = other.new_page()
        log_in(second, STAFF_EMAIL, STAFF_PASSWORD)
        open_elijahs_payments(second)

        page.get_by_label("Credits", exact=True).fill("200")
        page.get_by_role("button", name="Save credits").click()
        expect(page.get_by_role("status").filter(has_text="Saved.")).to_be_visible()

        second.get_by_label("Credits", exact=True).fill("90")
        second.get_by_label("Credits", exact=True).press("Enter")
        expect(second.get_by_role("alert")).to_contain_text("Someone else changed these credits")
        expect(second.get_by_role("alert")).to_contain_text("The balance is now 200.")
        expect(second.get_by_label("Credits", exact=True)).to_have_value("90")
        expect(second.locator("#profile-credits")).to_have_text("200")
    finally:
        other.close()


def test_escape_closes_the_refund_dialog_and_focus_returns_to_the_menu(page: Page, demo_data):
    log_in(page, STAFF_EMAIL, STAFF_PASSWORD)
    open_elijahs_payments(page)
    row = page.get_by_role("row").filter(has_text="pi_sandbox_elijah_2")
    menu_button = row.get_by_role("button", name="Payment actions")
    menu_button.click()
    row.get_by_role("menuitem", name="Create refund").click()
    dialog = page.get_by_role("dialog", name="Create refund")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(menu_button).to_be_focused()
