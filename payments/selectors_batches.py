"""Reads for bulk credit changes: the batches, the rows to review, the result file."""

import csv
from collections.abc import Iterator

from django.db.models import Case, IntegerField, QuerySet, Value, When

from audit.export import csv_safe
from payments.models import CreditBatch, CreditBatchRow

# Rows shown on the batch's page; the result file has them all.
REVIEW_ROWS_SHOWN = 500


def credit_batches_recent(*, limit: int = 20) -> QuerySet[CreditBatch]:
    return CreditBatch.objects.select_related("uploaded_by", "applied_by").order_by("-created_at", "-id")[:limit]


def credit_batch_rows_for_review(*, batch: CreditBatch, limit: int = REVIEW_ROWS_SHOWN) -> list[CreditBatchRow]:
    """The rows to look at first: the invalid ones, then those needing approval, then the rest,
    each in file order."""
    first = Case(
        When(verdict=CreditBatchRow.Verdict.INVALID, then=Value(0)),
        When(verdict=CreditBatchRow.Verdict.NEEDS_APPROVAL, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )
    rows = batch.rows.select_related("customer").annotate(first=first).order_by("first", "line")
    return list(rows[:limit])


RESULT_COLUMNS = [
    "line",
    "customer",
    "customer_id",
    "credits_delta",
    "note",
    "balance_at_dry_run",
    "dry_run",
    "dry_run_message",
    "outcome",
    "outcome_message",
    "ledger_entry_id",
    "credit_change_request_id",
]


class _Echo:
    def write(self, value: str) -> str:
        return value


def credit_batch_result_lines(*, batch: CreditBatch) -> Iterator[str]:
    """The batch as CSV, a line per row in file order; every text cell is formula-escaped (a note or
    a customer reference in the uploaded file could start with "=")."""
    writer = csv.writer(_Echo())
    yield writer.writerow(RESULT_COLUMNS)
    rows = batch.rows.order_by("line").values_list(
        "line",
        "customer_ref",
        "customer_id",
        "credits_delta",
        "note",
        "balance_seen",
        "verdict",
        "verdict_message",
        "outcome",
        "outcome_message",
        "ledger_entry_id",
        "credit_change_request_id",
    )
    for row in rows.iterator(chunk_size=2000):
        yield writer.writerow([csv_safe("" if cell is None else cell) for cell in row])
