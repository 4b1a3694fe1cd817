"""Bulk credit changes from a CSV file: the dry run judges every row and writes no credits; applying
runs each row through `credits_adjust`, one at a time, and one bad row stops no other."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from audit.models import AuditEvent
from payments.audit import PaymentAction
from payments.models import CreditBatch, CreditBatchRow, CreditChangeRequest, LedgerEntry
from payments.selectors_batches import credit_batch_result_lines
from payments.services.credit_batches import (
    CreditBatchDuplicate,
    CreditBatchRefused,
    credit_batch_apply_start,
    credit_batch_check,
    credit_batch_rows_apply,
)
from tests.factories import CustomerFactory, LedgerEntryFactory

pytestmark = pytest.mark.django_db


def csv_file(text: str, name: str = "credits.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


@pytest.fixture
def people(db):
    ana = CustomerFactory(email="ana@example.com", phone="+12025550101")
    ben = CustomerFactory(email="ben@example.com", phone="+12025550102")
    cat = CustomerFactory(email="cat@example.com", phone="+12025550103")
    dan = CustomerFactory(email="dan@example.com", phone="+12025550104")
    for person in (ana, ben, cat, dan):
        LedgerEntryFactory(user=person, credits_delta=100)
    return {"ana": ana, "ben": ben, "cat": cat, "dan": dan}


def verdicts(batch: CreditBatch) -> dict[int, tuple[str, str]]:
    return {row.line: (row.verdict, row.verdict_message) for row in batch.rows.all()}


@override_settings(CREDITS_APPROVAL_THRESHOLD=1000, CREDITS_MAX_BALANCE=1_000_000)
def test_the_dry_run_judges_every_row_and_changes_no_credits(finance_staff, people):
    text = (
        "customer,credits_delta,note\n"
        "ANA@example.com,+50,goodwill\n"  # 2: ready (email in any case)
        f"{people['ben'].pk},-30,\n"  # 3: ready (by id)
        "nobody@example.com,10,\n"  # 4: no such customer
        "cat@example.com,1.5,\n"  # 5: not a whole number
        "cat@example.com,abc,\n"  # 6: neither (and cat twice)
        "dan@example.com,-500,\n"  # 7: below zero
        f"{people['dan'].pk},5000,big\n"  # 8: dan again: conflicts with 7
        "\n"
        ",10,\n"  # 10: no customer
    )
    batch = credit_batch_check(upload=csv_file(text), actor=finance_staff)
    found = verdicts(batch)
    assert found[2][0] == found[3][0] == CreditBatchRow.Verdict.READY  # positive control
    assert found[4] == (CreditBatchRow.Verdict.INVALID, "No customer has this email or id.")
    assert "whole number" in found[5][1] and found[5][0] == CreditBatchRow.Verdict.INVALID
    assert "whole number" in found[6][1] and "also on line 5" in found[6][1]
    assert "also on line 8" in found[7][1] and "also on line 7" in found[8][1]
    assert found[10][1].startswith("No customer")
    assert batch.row_count == 8 and batch.status == CreditBatch.Status.CHECKED
    # Nothing but the batch was written: no ledger entry, request or balance change.
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.ADJUSTMENT, actor=finance_staff).count() == 0
    assert not CreditChangeRequest.objects.exists()
    assert {p.credits for p in type(people["ana"]).objects.filter(pk__in=[p.pk for p in people.values()])} == {100}
    assert AuditEvent.objects.filter(action=PaymentAction.CREDIT_BATCH_CHECKED, about_id=batch.pk).exists()


@override_settings(CREDITS_APPROVAL_THRESHOLD=1000, CREDITS_MAX_BALANCE=10_000)
def test_over_the_limits_is_refused_and_over_the_threshold_needs_approval(finance_staff, people):
    text = "customer,credits_delta\nana@example.com,20000\nben@example.com,1500\ncat@example.com,0\n"
    found = verdicts(credit_batch_check(upload=csv_file(text), actor=finance_staff))
    assert found[2][0] == CreditBatchRow.Verdict.INVALID and "over the most" in found[2][1]
    assert found[3][0] == CreditBatchRow.Verdict.NEEDS_APPROVAL
    assert found[4] == (CreditBatchRow.Verdict.INVALID, "A change of 0 changes nothing.")


def test_ones_own_account_is_refused_at_the_dry_run(finance_staff, people):
    text = f"customer,credits_delta\n{finance_staff.email},50\n"
    [row] = credit_batch_check(upload=csv_file(text), actor=finance_staff).rows.all()
    assert row.verdict == CreditBatchRow.Verdict.INVALID and "your own account" in row.verdict_message


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"", "empty"),
        (b"customer,credits_delta\n", "no rows"),
        (b"email_address,amount\nana@example.com,5\n", "name the columns"),
        ("customer,credits_delta,note\nana@example.com,5,caf\u00e9\n".encode("latin-1"), "UTF-8"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "UTF-8"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole(finance_staff, people, content, problem):
    with pytest.raises(CreditBatchRefused, match=problem):
        credit_batch_check(upload=SimpleUploadedFile("x.csv", content), actor=finance_staff)
    assert not CreditBatch.objects.exists()


def test_a_file_over_the_size_limit_is_refused(finance_staff, monkeypatch):
    monkeypatch.setattr("payments.services.credit_batches.CREDIT_BATCH_MAX_BYTES", 100)
    with pytest.raises(CreditBatchRefused, match="over"):
        credit_batch_check(upload=csv_file("customer,credits_delta\n" + "a@example.com,1\n" * 20), actor=finance_staff)
    assert not CreditBatch.objects.exists()


def test_the_same_file_again_points_to_the_earlier_batch(finance_staff, people):
    text = "customer,credits_delta\nana@example.com,5\n"
    first = credit_batch_check(upload=csv_file(text), actor=finance_staff)
    with pytest.raises(CreditBatchDuplicate) as duplicate:
        credit_batch_check(upload=csv_file(text, name="renamed.csv"), actor=finance_staff)
    assert duplicate.value.earlier == first
    assert CreditBatch.objects.count() == 1


@override_settings(CREDITS_APPROVAL_THRESHOLD=1000)
def test_apply_runs_each_row_through_the_credits_service(finance_staff, people, django_capture_on_commit_callbacks):
    text = (
        "customer,credits_delta,note\n"
        "ana@example.com,50,goodwill\nben@example.com,-30,\ncat@example.com,1500,\nx@y.z,1,\n"
    )
    batch = credit_batch_check(upload=csv_file(text), actor=finance_staff)
    with django_capture_on_commit_callbacks() as callbacks:
        credit_batch_apply_start(batch=batch, actor=finance_staff)
    assert len(callbacks) == 1  # the job, deferred once committed
    with pytest.raises(CreditBatchRefused, match="already"):
        credit_batch_apply_start(batch=batch, actor=finance_staff)

    batch = credit_batch_rows_apply(batch_id=batch.pk)

    for person in people.values():
        person.refresh_from_db()
    assert (people["ana"].credits, people["ben"].credits, people["cat"].credits) == (150, 70, 100)
    outcomes = {row.line: row for row in batch.rows.all()}
    assert outcomes[2].outcome == CreditBatchRow.Outcome.APPLIED and outcomes[2].ledger_entry.credits_delta == 50
    assert "goodwill (bulk file" in outcomes[2].ledger_entry.note
    assert outcomes[4].outcome == CreditBatchRow.Outcome.APPROVAL_REQUESTED
    assert outcomes[4].credit_change_request.new_balance == 1600
    assert outcomes[5].outcome == CreditBatchRow.Outcome.SKIPPED
    # The service's own audit events, one per change, and the whole batch's.
    adjusted = AuditEvent.objects.filter(action=PaymentAction.CREDITS_ADJUSTED, actor=finance_staff)
    assert set(adjusted.values_list("target_user_id", flat=True)) == {people["ana"].pk, people["ben"].pk}
    assert AuditEvent.objects.filter(action=PaymentAction.CREDITS_CHANGE_REQUESTED, target_user=people["cat"]).exists()
    event = AuditEvent.objects.get(action=PaymentAction.CREDIT_BATCH_APPLIED)
    assert event.about_id == batch.pk and event.actor == finance_staff
    assert event.after["rows_applied"] == 2 and event.after["rows_approval_requested"] == 1
    assert event.after["rows"][0] == [2, people["ana"].pk, 50, "applied"]
    assert batch.status == CreditBatch.Status.APPLIED and batch.rows_done == batch.row_count == 4


def test_a_balance_that_moved_since_the_dry_run_fails_that_row_only(finance_staff, people):
    text = "customer,credits_delta\nana@example.com,50\nben@example.com,-100\ncat@example.com,7\n"
    batch = credit_batch_check(upload=csv_file(text), actor=finance_staff)
    LedgerEntryFactory(user=people["ben"], credits_delta=-60)  # meanwhile: ben's balance is now 40
    credit_batch_apply_start(batch=batch, actor=finance_staff)
    batch = credit_batch_rows_apply(batch_id=batch.pk)
    rows = {row.line: row for row in batch.rows.all()}
    assert (
        rows[3].outcome == CreditBatchRow.Outcome.FAILED
        and "moved since the dry run (now 40)" in rows[3].outcome_message
    )
    assert rows[2].outcome == rows[4].outcome == CreditBatchRow.Outcome.APPLIED  # the rows around it went on
    people["ben"].refresh_from_db()
    assert people["ben"].credits == 40  # not half-applied
    assert not LedgerEntry.objects.filter(user=people["ben"], actor=finance_staff).exists()


def test_an_unexpected_error_on_one_row_does_not_stop_the_others(finance_staff, people, monkeypatch):
    from payments.services import credit_batches

    real = credit_batches.credits_adjust

    def flaky(*, user, **kwargs):
        if user.email == "ben@example.com":
            raise RuntimeError("boom")
        return real(user=user, **kwargs)

    monkeypatch.setattr(credit_batches, "credits_adjust", flaky)
    batch = credit_batch_check(
        upload=csv_file("customer,credits_delta\nana@example.com,1\nben@example.com,2\ncat@example.com,3\n"),
        actor=finance_staff,
    )
    credit_batch_apply_start(batch=batch, actor=finance_staff)
    batch = credit_batch_rows_apply(batch_id=batch.pk)
    assert list(batch.rows.order_by("line").values_list("outcome", flat=True)) == ["applied", "failed", "applied"]


def test_running_the_job_again_applies_nothing_twice(finance_staff, people):
    batch = credit_batch_check(upload=csv_file("customer,credits_delta\nana@example.com,5\n"), actor=finance_staff)
    credit_batch_apply_start(batch=batch, actor=finance_staff)
    credit_batch_rows_apply(batch_id=batch.pk)
    CreditBatch.objects.filter(pk=batch.pk).update(status=CreditBatch.Status.APPLYING)  # as if it crashed at the end
    credit_batch_rows_apply(batch_id=batch.pk)
    people["ana"].refresh_from_db()
    assert people["ana"].credits == 105
    assert (
        AuditEvent.objects.filter(action=PaymentAction.CREDIT_BATCH_APPLIED).count() == 2
    )  # one per run that finished
    assert LedgerEntry.objects.filter(user=people["ana"], actor=finance_staff).count() == 1


def test_the_result_file_has_every_row_with_its_outcome_and_is_formula_safe(finance_staff, people):
    text = 'customer,credits_delta,note\nana@example.com,5,=HYPERLINK("https://evil.example")\n=1+1,3,\n'
    batch = credit_batch_check(upload=csv_file(text), actor=finance_staff)
    credit_batch_apply_start(batch=batch, actor=finance_staff)
    batch = credit_batch_rows_apply(batch_id=batch.pk)
    rows = list(csv.DictReader(io.StringIO("".join(credit_batch_result_lines(batch=batch)))))
    assert [row["line"] for row in rows] == ["2", "3"]
    assert rows[0]["note"].startswith("'=HYPERLINK") and rows[0]["outcome"] == "applied"
    assert rows[0]["ledger_entry_id"] == str(batch.rows.get(line=2).ledger_entry_id)
    assert rows[1]["customer"] == "'=1+1" and rows[1]["outcome"] == "skipped" and rows[1]["dry_run"] == "invalid"


def test_the_sample_file_in_the_docs_works_against_the_demo_customers(finance_staff):
    from django.conf import settings
    from django.core.management import call_command

    call_command("seed_demo", users=50)
    sample = settings.BASE_DIR / "docs" / "sample-credits.csv"
    batch = credit_batch_check(
        upload=SimpleUploadedFile("sample-credits.csv", sample.read_bytes()), actor=finance_staff
    )
    found = {line: verdict for line, (verdict, _) in verdicts(batch).items()}
    ready, approval, invalid = (CreditBatchRow.Verdict.READY, CreditBatchRow.Verdict.NEEDS_APPROVAL, "invalid")
    assert found == {
        2: ready,
        3: ready,
        4: ready,
        5: approval,
        6: invalid,
        7: invalid,
        8: invalid,
        9: invalid,
        10: invalid,
    }


def test_a_row_on_the_appliers_own_account_fails_and_the_refusal_is_audited(finance_staff, second_finance, people):
    batch = credit_batch_check(
        upload=csv_file(f"customer,credits_delta\n{second_finance.email},50\nana@example.com,5\n"), actor=finance_staff
    )
    credit_batch_apply_start(batch=batch, actor=second_finance)  # a colleague applies: it is their own account
    batch = credit_batch_rows_apply(batch_id=batch.pk)
    rows = {row.line: row for row in batch.rows.all()}
    assert rows[2].outcome == CreditBatchRow.Outcome.FAILED and "your own account" in rows[2].outcome_message
    assert rows[3].outcome == CreditBatchRow.Outcome.APPLIED
    second_finance.refresh_from_db()
    assert second_finance.credits == 0
    assert AuditEvent.objects.filter(
        action=PaymentAction.CREDITS_SELF_SERVICE_REFUSED, actor=second_finance, target_user=second_finance
    ).exists()
