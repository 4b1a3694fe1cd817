"""The refund dialog in a real browser: the button says what Execute will do as the amount is
typed, the type follows the amount, the preview of consequences follows the form, errors are
summarised and tied to their fields, and the result follows the customer's text message.

Screenshots of every state at 1366x768 and 390x844: artifacts/screenshots/refund-dialog-*.png.
"""

import re
from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import BrowserContext, Locator, Page, expect

from accounts.roles import FINANCE
from notifications.models import SmsMessage
from notifications.sending import sms_send
from tests.factories import CustomerFactory, PaymentFactory, StaffFactory, purchase_record
from tests.helpers import refund_request

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
SIZES = {"1366": {"width": 1366, "height": 768}, "390": {"width": 390, "height": 844}}


@pytest.fixture
def payment(transactional_db):
    """Elijah's $39.00 payment for 250 credits, $5.00 of it refunded already by a colleague."""
    elijah = CustomerFactory(first_name="Elijah", last_name="Herrick", email="elijah.herrick@example.com")
    payment = purchase_record(
        PaymentFactory(user=elijah, amount=3900, credits_bought=250, description="Plus pack — 250 credits")
    )
    colleague = StaffFactory(first_name="Cora", last_name="Colleague", roles=[FINANCE], passwordless=True)
    refund_request(payment, actor=colleague, amount=500)
    return payment


@pytest.fixture
def finance_page(page: Page, context: BrowserContext, live_server, transactional_db) -> Page:
    fran = StaffFactory(first_name="Fran", last_name="Finance", roles=[FINANCE])
    client = Client()
    client.force_login(fran)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    return page


def shot(page: Page, name: str) -> None:
    """What the staff member sees in the viewport (not the full page: whether it fits is the point)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}.png")


def open_dialog(page: Page, payment) -> Locator:
    page.goto(f"/users/{payment.user_id}/payments/")
    row = page.get_by_role("row").filter(has_text=payment.gateway_id)
    row.get_by_role("button", name="Payment actions").click()
    row.get_by_role("menuitem", name="Create refund").click()
    expect(page.get_by_role("dialog", name="Create refund")).to_be_visible()
    return page.get_by_role("dialog")


@pytest.mark.parametrize("size", SIZES)
def test_the_button_and_the_preview_follow_the_amount(finance_page: Page, payment, size):
    page = finance_page
    page.set_viewport_size(SIZES[size])
    dialog = open_dialog(page, payment)
    execute = dialog.locator("#refund-submit")
    preview = dialog.get_by_role("region", name="What this refund will do")

    # Nothing that moves money is chosen yet.
    expect(execute).to_have_text("Execute refund")
    for label in ("Full refund", "Partial refund", "Account credits"):
        expect(dialog.get_by_label(label)).not_to_be_checked()
    expect(dialog.get_by_label("Amount")).to_have_value("")
    expect(preview).to_contain_text("No amount yet")
    expect(preview).to_contain_text("Cora Colleague made a partial refund of $5.00")
    expect(dialog.get_by_text("Earlier refunds on this payment (1)")).to_be_visible()
    shot(page, f"refund-dialog-open-{size}")

    # Less than remains: Partial, the suggested credits fill in, the button says it.
    dialog.get_by_label("Amount").press_sequentially("12.50", delay=20)
    expect(execute).to_have_text("Execute refund of $12.50 to the card")
    expect(dialog.get_by_label("Partial refund")).to_be_checked()
    expect(dialog.get_by_label("Also remove purchased credits")).to_have_value("80")
    expect(dialog.locator("#credits-preview")).to_have_text(re.compile(r"Balance 250 → 170 credits"))
    expect(preview).to_contain_text("$12.50 to the card · Partial refund")
    expect(preview).to_contain_text(re.compile(r"Balance after\s*250 → 170 credits"))
    expect(preview).to_contain_text(
        "StatStak Labs: we refunded $12.50 to your original payment method. "
        "It can take 5-10 business days to appear on your statement."
    )
    if size == "1366":
        # Execute refund is in view without scrolling, earlier refunds and all.
        box = execute.bounding_box()
        assert box is not None and box["y"] + box["height"] <= SIZES[size]["height"]
    shot(page, f"refund-dialog-preview-{size}")

    # All that remains: Full refund.
    dialog.get_by_label("Amount").fill("34.00")
    expect(execute).to_have_text("Execute refund of $34.00 to the card")
    expect(dialog.get_by_label("Full refund")).to_be_checked()
    expect(preview).to_contain_text("$34.00 to the card · Full refund")

    # Choosing Full refund fills in the remaining amount, still editable; typing less is Partial again.
    dialog.get_by_label("Amount").fill("")
    dialog.get_by_label("Full refund").check()
    expect(dialog.get_by_label("Amount")).to_have_value("34.00")
    expect(dialog.get_by_label("Amount")).to_be_editable()
    dialog.get_by_label("Amount").fill("30.00")
    expect(dialog.get_by_label("Partial refund")).to_be_checked()
    expect(execute).to_have_text("Execute refund of $30.00 to the card")

    # Account credits stays Account credits; the button says so.
    dialog.get_by_label("Account credits").check()
    expect(execute).to_have_text("Execute refund of $30.00 as 192 credits")
    expect(dialog.get_by_label("Also remove purchased credits")).to_be_hidden()


@pytest.mark.parametrize("size", SIZES)
def test_errors_are_summarised_then_the_result_follows_the_text_message(
    finance_page: Page, payment, size, page_problems
):
    page = finance_page
    page.set_viewport_size(SIZES[size])
    dialog = open_dialog(page, payment)

    dialog.get_by_label("Reason").select_option(label="Other")
    dialog.locator("#refund-submit").click()
    summary = dialog.locator("#refund-errors")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("2 problems stop this refund")
    expect(dialog.get_by_label("Amount")).to_have_attribute("aria-invalid", "true")
    expect(dialog.get_by_label("Note")).to_have_attribute("aria-invalid", "true")
    expect(dialog.get_by_label("Note")).to_have_accessible_description(
        re.compile("Say why in the note when the reason is Other.")
    )
    shot(page, f"refund-dialog-error-{size}")
    # The form with errors comes back as 422, as it should; Chromium logs every 4xx to the console.
    page_problems.console_errors[:] = [e for e in page_problems.console_errors if "status of 422" not in e]
    summary.get_by_role("link", name=re.compile("^Note:")).click()
    expect(dialog.get_by_label("Note")).to_be_focused()

    dialog.get_by_label("Note").fill("Goodwill: the export failed twice.")
    dialog.get_by_label("Amount").fill("12.50")
    dialog.get_by_role("button", name="Execute refund of $12.50 to the card").click()

    expect(page.get_by_role("dialog", name="Refund sent")).to_be_visible()
    expect(dialog.get_by_role("heading", name="Success!")).to_be_visible()
    expect(dialog.get_by_role("status").first).to_contain_text("$12.50 was refunded")
    expect(dialog).to_contain_text(re.compile(r"Refund reference\s*RF-\d{6}"))
    expect(dialog).to_contain_text("re_sandbox_")
    expect(dialog).to_contain_text("5-10 business days to the card")
    sms = dialog.locator("#refund-sms")
    expect(sms).to_contain_text("Queued")
    shot(page, f"refund-dialog-success-{size}")

    # The worker sends it (the console backend: "sent" is as far as it goes); the open dialog shows it.
    sms_send(message_id=SmsMessage.objects.filter(user=payment.user).latest("id").pk)
    expect(sms).to_contain_text("Sent", timeout=10_000)
    expect(sms).not_to_have_attribute("hx-get", re.compile("."))
    dialog.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
