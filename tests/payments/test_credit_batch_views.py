"""The Bulk credits pages: upload → dry run shown → apply → progress → result file."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.roles import SUPPORT
from payments.models import CreditBatch, LedgerEntry
from payments.services.credit_batches import credit_batch_rows_apply
from tests.factories import CustomerFactory, StaffFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def finance_client(client, finance_staff):
    client.force_login(finance_staff)
    return client


def upload(client, text: str, name: str = "credits.csv"):
    return client.post(reverse("credit_batches"), {"file": SimpleUploadedFile(name, text.encode())})


def test_an_upload_is_checked_and_shown_before_anything_changes(finance_client):
    ana = CustomerFactory(email="ana@example.com")
    response = upload(finance_client, "customer,credits_delta,note\nana@example.com,25,thanks\nnobody@example.com,5,\n")
    batch = CreditBatch.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("credit_batch_detail", args=[batch.pk])
    page = finance_client.get(response["Location"])
    assert page.status_code == 200
    text = page.text
    assert "1</strong> ready to apply" in text and "1</strong> will not be applied" in text
    assert "No customer has this email or id." in text and "Apply changes" in text
    # Refused rows come first.
    assert text.index('id="batch-row-3"') < text.index('id="batch-row-2"')
    ana.refresh_from_db()
    assert ana.credits == 0 and not LedgerEntry.objects.exists()


def test_the_same_file_again_is_refused_with_a_link_to_the_first(finance_client):
    CustomerFactory(email="ana@example.com")
    upload(finance_client, "customer,credits_delta\nana@example.com,25\n")
    again = upload(finance_client, "customer,credits_delta\nana@example.com,25\n", name="again.csv")
    first = CreditBatch.objects.get()
    assert again.status_code == 409
    assert f"uploaded before, as batch #{first.pk}" in again.text
    assert reverse("credit_batch_detail", args=[first.pk]) in again.text


@pytest.mark.parametrize("content", [b"\xff\xfe\x00bad", b"nothing useful\n"])
def test_a_bad_file_is_a_form_error(finance_client, content):
    response = finance_client.post(reverse("credit_batches"), {"file": SimpleUploadedFile("bad.csv", content)})
    assert response.status_code == 422
    assert response.context["form"].errors["file"]
    assert not CreditBatch.objects.exists()


def test_apply_shows_an_accessible_progress_bar_then_the_result_file(
    finance_client, django_capture_on_commit_callbacks
):
    ana = CustomerFactory(email="ana@example.com")
    upload(finance_client, "customer,credits_delta\nana@example.com,25\n")
    batch = CreditBatch.objects.get()
    hx = {"HX-Request": "true", "HX-Target": "batch-progress"}
    with django_capture_on_commit_callbacks():
        response = finance_client.post(reverse("credit_batch_apply", args=[batch.pk]), headers=hx)
    assert response.status_code == 200
    assert 'role="progressbar"' in response.text and 'aria-valuenow="0"' in response.text
    assert 'hx-trigger="every 1s"' in response.text  # it polls while the job runs

    credit_batch_rows_apply(batch_id=batch.pk)  # the job
    progress = finance_client.get(reverse("credit_batch_progress", args=[batch.pk]), headers=hx)
    assert 'aria-valuenow="1"' in progress.text and 'aria-valuemax="1"' in progress.text
    assert "every 1s" not in progress.text  # done: the polling stops
    assert reverse("credit_batch_result", args=[batch.pk]) in progress.text

    result = finance_client.get(reverse("credit_batch_result", args=[batch.pk]))
    [row] = csv.DictReader(io.StringIO(b"".join(result.streaming_content).decode()))
    assert row["outcome"] == "applied" and row["customer"] == "ana@example.com"
    ana.refresh_from_db()
    assert ana.credits == 25

    again = finance_client.post(reverse("credit_batch_apply", args=[batch.pk]), headers=hx)
    assert again.status_code == 422 and "already applied" in again.text


def test_support_cannot_upload_a_file(client):
    client.force_login(StaffFactory(roles=[SUPPORT]))
    response = upload(client, "customer,credits_delta\nana@example.com,25\n")
    assert response.status_code == 403
    assert not CreditBatch.objects.exists()
