"""Bulk credits in a real browser: upload a CSV → the dry run → Apply → the progress bar fills as
the queue's worker applies the rows → the result file downloads."""

import csv
import io
import threading

import pytest
from django.test import Client
from playwright.sync_api import BrowserContext, Page, expect

from accounts.roles import FINANCE
from payments.models import CreditBatch
from tests.browser.helpers import axe_violations
from tests.factories import CustomerFactory, StaffFactory

pytestmark = pytest.mark.browser


@pytest.fixture
def finance_page(page: Page, context: BrowserContext, live_server, transactional_db) -> Page:
    fran = StaffFactory(first_name="Fran", last_name="Finance", roles=[FINANCE])
    client = Client()
    client.force_login(fran)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    return page


def test_upload_dry_run_apply_progress_and_result(finance_page: Page, run_worker, tmp_path, screenshot):
    page = finance_page
    ana = CustomerFactory(first_name="Ana", last_name="Able", email="ana@example.com", phone="+12025550111")
    CustomerFactory(first_name="Ben", last_name="Baker", email="ben@example.com", phone="+12025550112")
    file = tmp_path / "credits.csv"
    file.write_text(
        "customer,credits_delta,note\nana@example.com,40,Goodwill\nnobody@example.com,5,\nben@example.com,x,\n"
    )

    page.goto("/users/")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Bulk credits").click()
    expect(page.get_by_role("heading", name="Bulk credits", level=1)).to_be_visible()
    page.get_by_label("CSV file").set_input_files(str(file))
    page.get_by_role("button", name="Check the file").click()

    # The dry run: every row judged, nothing changed yet.
    expect(page.get_by_role("heading", name="Dry run")).to_be_visible()
    expect(page.get_by_text("No customer has this email or id.")).to_be_visible()
    expect(page.get_by_text("whole number", exact=False)).to_be_visible()
    found = axe_violations(page, "bulk credits dry run")
    screenshot("bulk-credits-dry-run")
    ana.refresh_from_db()
    assert ana.credits == 0

    page.get_by_role("button", name="Apply changes").click()
    progress = page.get_by_role("progressbar")
    expect(progress).to_be_visible()
    found += axe_violations(page, "bulk credits applying")
    # The queue's worker applies the rows (in a thread: Playwright's event loop runs in this one);
    # the page polls and follows.
    worker = threading.Thread(target=run_worker)
    worker.start()
    worker.join(timeout=60)
    expect(progress).to_have_attribute("aria-valuenow", "3")
    expect(progress).to_have_attribute("aria-valuemax", "3")
    expect(page.get_by_text("Done.")).to_be_visible()
    found += axe_violations(page, "bulk credits applied")
    screenshot("bulk-credits-applied")
    assert found == [], "\n".join(found)
    ana.refresh_from_db()
    assert ana.credits == 40

    with page.expect_download() as download:
        page.get_by_role("link", name="Download the result file").click()
    rows = list(csv.DictReader(io.StringIO(download.value.path().read_text())))
    assert [(row["line"], row["outcome"]) for row in rows] == [("2", "applied"), ("3", "skipped"), ("4", "skipped")]
    assert CreditBatch.objects.get().status == CreditBatch.Status.APPLIED
