"""The search bar finds a customer by phone number, and opens a payment by its id."""

import re

import pytest
from playwright.sync_api import Page, expect

from accounts.models import User
from tests.browser.helpers import payment_row, profile_tab, result_names, search_box
from tests.factories import PaymentFactory

pytestmark = pytest.mark.browser

TYPING_DELAY_MS = 40


@pytest.fixture
def numbered(customers):
    """The look-alikes with numbers of their own: only Elijah has +1 202-555-0143."""
    for n, key in enumerate(["zoe", "elijah_stone", "martha", "mary_ann"]):
        User.objects.filter(pk=customers[key].pk).update(phone=f"+1415555010{n}")
    return customers


def test_a_phone_number_typed_as_people_write_it_finds_the_customer(staff_page: Page, numbered, screenshot):
    staff_page.goto("/users/")
    expect(staff_page.locator("#search-hint")).to_contain_text("#0143")

    search_box(staff_page).press_sequentially("(202) 555 0143", delay=TYPING_DELAY_MS)

    names = result_names(staff_page, "(202) 555 0143")
    expect(names).to_have_text(["Elijah Herrick"])
    screenshot("c360-search-by-phone")
    names.first.click()
    expect(staff_page).to_have_url(re.compile(rf"/users/{numbered['elijah'].pk}/$"))
    expect(staff_page.get_by_role("heading", level=1)).to_have_text("Elijah Herrick")


def test_a_payment_id_opens_the_payments_tab_with_the_payment_marked(staff_page: Page, numbered, screenshot):
    elijah = numbered["elijah"]
    PaymentFactory(user=elijah, gateway_id="pi_3QxOther0002")
    payment = PaymentFactory(user=elijah, gateway="stripe", gateway_id="pi_3QxFound0001")
    staff_page.goto("/users/")

    search_box(staff_page).press_sequentially("pi_3QxFound0001", delay=TYPING_DELAY_MS)

    expect(staff_page).to_have_url(
        re.compile(rf"/users/{elijah.pk}/payments/\?payment={payment.pk}#payment-{payment.pk}$")
    )
    expect(profile_tab(staff_page, "Payments")).to_have_attribute("aria-current", "page")
    row = payment_row(staff_page, "pi_3QxFound0001")
    expect(row).to_have_class("search-highlight")
    expect(row).to_have_attribute("aria-current", "true")
    expect(payment_row(staff_page, "pi_3QxOther0002")).not_to_have_class("search-highlight")
    # The mark is visible: the row's cells are painted.
    background = row.locator("td").first.evaluate("cell => getComputedStyle(cell).backgroundColor")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    screenshot("c360-payment-by-id")


def test_an_unknown_id_says_so(staff_page: Page, numbered):
    staff_page.goto("/users/")
    search_box(staff_page).press_sequentially("re_3NoSuchRefund", delay=TYPING_DELAY_MS)
    expect(staff_page.locator("#user-results")).to_contain_text("No payment or refund with this id.")
