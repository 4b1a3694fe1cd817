"""axe-core over every page and state staff see, failing on any violation of any impact.

Each test walks one set of pages in a real Chromium and runs axe-core (axe-playwright-python's copy)
after every step, collecting what it finds; it fails at the end with the whole list, so one run
says everything that is wrong, not only the first thing.
"""

import pytest
from playwright.sync_api import Page, expect

from accounts.demo import STAFF_EMAIL, STAFF_PASSWORD
from accounts.models import User
from tests.browser.helpers import (
    PHONE,
    WIDE,
    axe_violations,
    header_unfold,
    log_in,
    main_nav_open,
    open_refund_dialog,
    partial_refund,
    payment_row,
    profile_tab,
    result_names,
    search_box,
)
from tests.people import totp_code, totp_device_confirmed

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["wide", "phone"])
def test_no_page_or_state_a_staff_member_meets_has_an_axe_violation(page: Page, page_problems, demo_portal, viewport):
    page.set_viewport_size(viewport)
    found: list[str] = []

    page.goto("/login/")
    found += axe_violations(page, "login")
    page.get_by_label("Email").fill(STAFF_EMAIL)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    found += axe_violations(page, "login with an error")

    log_in(page, STAFF_EMAIL, STAFF_PASSWORD)
    expect(page.get_by_role("heading", name="Users", level=1)).to_be_visible()
    found += axe_violations(page, "users")
    search_box(page).press_sequentially("elij", delay=20)
    expect(result_names(page, "elij").get_by_text("Elijah Herrick", exact=True)).to_be_visible()
    found += axe_violations(page, "users search")
    search_box(page).fill("nobody-by-this-name")
    expect(page.locator("#user-results .empty")).to_be_visible()
    found += axe_violations(page, "users search, no match")
    page.goto("/users/?q=" + "x" * 300)
    expect(page.get_by_role("alert")).to_be_visible()
    found += axe_violations(page, "users search with an error")

    page.goto(f"/users/{demo_portal.pk}/")
    found += axe_violations(page, "profile overview")
    page.get_by_text("The entries the chart is drawn from").click()
    expect(page.locator(".credits-chart-data table")).to_be_visible()
    found += axe_violations(page, "profile overview, credits chart with its table open")
    profile_tab(page, "Payments").click()
    expect(page.get_by_role("heading", name="Past payments")).to_be_visible()
    found += axe_violations(page, "profile payments")

    credits = page.get_by_label("Credits", exact=True)
    credits.fill("lots")
    credits.press("Enter")
    expect(page.locator("#payment-info [role=alert]").first).to_be_visible()
    found += axe_violations(page, "credits editor with an error")
    page.get_by_label("Credits", exact=True).fill(str(demo_portal.credits + 10))
    page.get_by_label("Credits", exact=True).press("Enter")
    expect(page.locator("#payment-info").get_by_text("Saved.")).to_be_visible()
    found += axe_violations(page, "credits saved")

    row = payment_row(page, "pi_sandbox_elijah_3")
    row.get_by_role("button", name="Payment actions").click()
    expect(row.get_by_role("menuitem").first).to_be_visible()
    found += axe_violations(page, "payment menu open")
    page.keyboard.press("Escape")

    dialog = open_refund_dialog(page, "pi_sandbox_elijah_3")
    found += axe_violations(page, "refund dialog")
    partial_refund(dialog, "99999")
    dialog.locator("form button[type=submit]").click()
    expect(dialog.locator("[aria-invalid=true]").first).to_be_visible()
    found += axe_violations(page, "refund dialog with an error")
    partial_refund(dialog, "12.50")
    dialog.locator("form button[type=submit]").click()
    expect(dialog.get_by_role("heading", name="Success!")).to_be_visible()
    found += axe_violations(page, "refund dialog, success")
    dialog.get_by_role("button", name="Continue").click()
    expect(dialog).to_be_hidden()
    found += axe_violations(page, "profile payments after a refund")

    row = payment_row(page, "pi_sandbox_elijah_3")
    row.get_by_role("button", name="Payment actions").click()
    row.get_by_role("menuitem", name="View refunds").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    found += axe_violations(page, "refunds of a payment")
    page.keyboard.press("Escape")

    profile_tab(page, "Activity").click()
    expect(page.get_by_role("heading", name="Credit history")).to_be_visible()
    found += axe_violations(page, "profile activity (credit history, messages, audit trail)")
    timeline = page.get_by_role("region", name="Timeline")
    timeline.get_by_label("Refunds", exact=True).check()
    timeline.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("region", name="Timeline").get_by_role("link", name="Show everything")).to_be_visible()
    found += axe_violations(page, "profile activity, timeline filtered by kind")

    for name in ["Approvals", "Audit log", "Books", "Staff"]:
        main_nav_open(page, name)
        expect(page.locator(".mainnav [aria-current=page]")).to_have_text(name)
        found += axe_violations(page, name)
    main_nav_open(page, "Approvals")
    # The credit change was asked for on a balance that has changed since: refused, said in its row.
    page.get_by_role("button", name="Approve and apply").click()
    expect(page.locator("#payment-info, .decision").get_by_role("alert")).to_be_visible()
    page_problems.console_errors[:] = [e for e in page_problems.console_errors if "status of 422" not in e]
    found += axe_violations(page, "Approvals, a decision refused")
    page.get_by_role("button", name="Approve and refund").click()
    expect(page.get_by_role("button", name="Approve and refund")).to_have_count(0)
    found += axe_violations(page, "Approvals after a decision")

    assert found == [], f"{len(found)} axe-core violations:\n" + "\n".join(found)


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["wide", "phone"])
def test_the_two_factor_pages_have_no_axe_violation(page: Page, page_problems, settings, staff_member, viewport):
    page.set_viewport_size(viewport)
    settings.STATSTAK_REQUIRE_2FA = True
    found: list[str] = []

    log_in(page, staff_member.email)
    expect(page.get_by_role("heading", name="Set up two-factor authentication", level=1)).to_be_visible()
    found += axe_violations(page, "two-factor setup")
    page.get_by_label("Code from the app").fill("000000")
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(page.get_by_role("alert")).to_be_visible()
    page_problems.console_errors[:] = [e for e in page_problems.console_errors if "status of 422" not in e]
    found += axe_violations(page, "two-factor setup with an error")
    secret = page.locator("#two-factor-secret").inner_text()
    page.wait_for_timeout(1100)  # django-otp's throttle after a wrong code
    page.get_by_label("Code from the app").fill(totp_code(secret))
    page.get_by_role("button", name="Turn on two-factor authentication").click()
    expect(page.get_by_role("heading", name="Two-factor authentication is on")).to_be_visible()
    found += axe_violations(page, "two-factor recovery codes")

    header_unfold(page)
    page.get_by_role("button", name="Log out").click()
    other = User.objects.create_user("beth@statstak.test", "correct horse battery staple", is_staff=True)
    totp_device_confirmed(other)
    log_in(page, "beth@statstak.test")
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    found += axe_violations(page, "two-factor verify")

    assert found == [], f"{len(found)} axe-core violations:\n" + "\n".join(found)


def described_by(field) -> str:
    """The text of the elements a field's aria-describedby points to, as a screen reader reads it."""
    return field.evaluate(
        """el => (el.getAttribute("aria-describedby") || "").split(/\\s+/).filter(Boolean)
          .map((id) => document.getElementById(id)?.textContent.trim() ?? `(missing #${id})`).join(" | ")"""
    )


def test_a_failed_form_says_what_is_wrong_at_its_top_and_at_each_field(page: Page, page_problems, demo_portal):
    # Login: nothing typed.
    page.goto("/login/")
    page.get_by_role("button", name="Log in").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Email: This field is required.")
    email = page.get_by_label("Email")
    expect(email).to_have_attribute("aria-invalid", "true")
    assert "This field is required." in described_by(email)
    summary.get_by_role("link", name="Password: This field is required.").click()
    expect(page.get_by_label("Password")).to_be_focused()

    # Login: the wrong password; the message is tied to both fields.
    page.get_by_label("Email").fill(STAFF_EMAIL)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert "correct email and password" in described_by(page.get_by_label("Password"))

    # The credits editor: a summary at the top of the form, the field marked and described.
    log_in(page, STAFF_EMAIL, STAFF_PASSWORD)
    page.goto(f"/users/{demo_portal.pk}/payments/")
    page.get_by_label("Credits", exact=True).fill("lots")
    page.get_by_label("Credits", exact=True).press("Enter")
    summary = page.locator("#payment-info").get_by_role("alert")
    expect(summary).to_contain_text("The credits were not changed")
    credits = page.get_by_label("Credits", exact=True)
    expect(credits).to_have_attribute("aria-invalid", "true")
    expect(credits).to_be_focused()
    error = summary.get_by_role("link").first.inner_text()
    assert described_by(credits).startswith(error)
    page.keyboard.press("Tab")
    summary.get_by_role("link").first.click()
    expect(credits).to_be_focused()
    expect(page.locator("#announcer")).to_contain_text(error)

    # The search: too long a search, from an address; then a good one typed clears it.
    page.goto("/users/?q=" + "x" * 300)
    search = search_box(page)
    expect(search).to_have_attribute("aria-invalid", "true")
    assert "at most" in described_by(search)
    search.fill("elij")
    expect(page.get_by_role("link", name="Elijah Herrick", exact=True)).to_be_visible()
    expect(search).not_to_have_attribute("aria-invalid", "true")
    assert "at most" not in described_by(search)
    # A refused form answers 422, which Chromium logs as a failed resource: expected here.
    page_problems.console_errors[:] = [e for e in page_problems.console_errors if "status of 422" not in e]


def test_each_payments_actions_button_is_named_for_its_payment(page: Page, demo_portal):
    log_in(page, STAFF_EMAIL, STAFF_PASSWORD)
    page.goto(f"/users/{demo_portal.pk}/payments/")
    buttons = page.get_by_role("region", name="Past payments").get_by_role("button")

    expect(buttons).to_have_count(3)
    names = [button.get_attribute("aria-label") for button in buttons.all()]
    assert names == [
        "Payment actions: Plus pack — 250 credits, Sep 22, 2026",
        "Payment actions: Starter pack — 100 credits, Mar 6, 2026",
        "Payment actions: Pro pack — 500 credits, Oct 17, 2025",
    ]
    tables = page.locator("main table")
    for table in tables.all():
        assert table.locator("caption").count() == 1, "a table without a caption"
        assert table.locator("thead th:not([scope=col])").count() == 0, "a column header without scope"
