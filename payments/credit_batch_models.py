"""Bulk credit changes from a CSV file (payments.services.credit_batches): the batch and its rows.

Its own module (payments/models.py would pass 400 lines); payments.models imports it, so Django
and the migrations see these models as payments' own. Links to payments' other models are by name.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class CreditBatch(models.Model):
    """A CSV file of credit changes, checked row by row (the dry run) before anything is applied.

    The file's SHA-256 is unique: the same file uploaded again is the same batch, never a second
    one that would apply every change twice. Applying is a queue job that runs each row through the
    Credits editor's service (`credits_adjust`), one transaction per row.
    """

    class Status(models.TextChoices):
        CHECKED = "checked", "Checked (dry run)"
        QUEUED = "queued", "Waiting to apply"
        APPLYING = "applying", "Applying"
        APPLIED = "applied", "Applied"

    filename = models.CharField(max_length=255)
    content_sha256 = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.CHECKED)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    row_count = models.PositiveIntegerField(default=0)
    # Rows the apply job has finished (applied, sent for approval or failed): the progress bar.
    rows_done = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    apply_started_at = models.DateTimeField(null=True, blank=True)
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [("apply_credit_batch", "Can change credits in bulk from a CSV file")]

    def __str__(self) -> str:
        return f"Credit batch {self.pk} ({self.status})"

    @property
    def percent_done(self) -> int:
        return 100 * self.rows_done // self.row_count if self.row_count else 100


class CreditBatchRow(models.Model):
    """One line of a `CreditBatch`: what the dry run found (`verdict`), then what applying it did."""

    class Verdict(models.TextChoices):
        READY = "ready", "Ready"
        NEEDS_APPROVAL = "needs_approval", "Needs a second staff member's approval"
        INVALID = "invalid", "Will not be applied"

    class Outcome(models.TextChoices):
        NOT_YET = "", "Not applied yet"
        APPLIED = "applied", "Applied"
        APPROVAL_REQUESTED = "approval_requested", "Sent for approval"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped (invalid)"

    batch = models.ForeignKey(CreditBatch, on_delete=models.CASCADE, related_name="rows")
    line = models.PositiveIntegerField(help_text="The line in the file (the header is line 1).")
    customer_ref = models.CharField(max_length=254, blank=True, help_text="The customer as the file names them.")
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    credits_delta = models.BigIntegerField(null=True, blank=True)
    note = models.TextField(blank=True)
    # The balance at the dry run: applying refuses the row if it moved since (optimistic concurrency).
    balance_seen = models.BigIntegerField(null=True, blank=True)
    verdict = models.CharField(max_length=16, choices=Verdict)
    verdict_message = models.TextField(blank=True)
    outcome = models.CharField(max_length=24, choices=Outcome, blank=True, default=Outcome.NOT_YET)
    outcome_message = models.TextField(blank=True)
    ledger_entry = models.OneToOneField(
        "payments.LedgerEntry", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    credit_change_request = models.OneToOneField(
        "payments.CreditChangeRequest", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["batch", "line"], name="credit_batch_row_unique_line")]

    def __str__(self) -> str:
        return f"Credit batch {self.batch_id} line {self.line}"
