"""Bulk credit changes from a CSV file: upload and dry run, then apply row by row.

Phases:
1. `credit_batch_check` (the dry run): the file is refused whole if it is too big, not UTF-8 text,
   without the needed columns, or the same file (by SHA-256) as an earlier batch. Otherwise every
   row is judged (customer found, a whole non-zero number, the balance limits, the Support limit,
   four-eyes, the same customer twice, one's own account) and stored with the balance seen, in one
   transaction: a `CreditBatch` and its `CreditBatchRow`s. No credits, ledger entry or approval
   request is written.
2. `credit_batch_apply_start`: under the batch's row lock (two clicks cannot queue it twice), it
   is marked queued, its invalid rows skipped, and the apply job deferred after commit.
3. `credit_batch_rows_apply` (the queue job): each remaining row goes through `credits_adjust`,
   the Credits editor's own service (permission, no self-service, limits, four-eyes, audit), with
   `expected_balance` = the balance at the dry run, so a balance that moved since is refused, not
   overwritten. One transaction per row, holding the row's lock, writes the change and the row's
   outcome together: a row is applied once even if the job is run again after a crash, and one
   row's failure leaves the others as they are. Last, the whole batch's audit event, with every
   row's outcome.

Locks: the batch row (phase 2; the job's final step), then per row the batch row's line
(`select_for_update`) before `credits_adjust` takes the customer's and the staff member's locks.
"""

import csv
import hashlib
import io
import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone
from procrastinate.contrib.django import app

from accounts.models import User
from audit.services import audit_record
from payments.audit import PaymentAction
from payments.models import CreditBatch, CreditBatchRow, CreditChangeRequest
from payments.services.credits import credits_adjust, credits_self_service_refuse
from payments.services.ledger import CreditsConflict, CreditsRefused

logger = logging.getLogger(__name__)

CREDIT_BATCH_MAX_BYTES = 5 * 1024 * 1024
CREDIT_BATCH_MAX_ROWS = 20_000
CREDIT_BATCH_NOTE_MAX = 500
# A header's accepted names (lower case), for what a spreadsheet export may call the columns.
CUSTOMER_COLUMNS = ("customer", "email", "customer_id", "id")
DELTA_COLUMNS = ("credits_delta", "delta", "credits")
NOTE_COLUMNS = ("note",)
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,12}")


class CreditBatchRefused(ValueError):
    """The file (or the request to apply it) is refused whole; nothing was written."""


@dataclass
class CreditBatchDuplicate(Exception):
    """This very file was uploaded before: the earlier batch is the one to look at."""

    earlier: CreditBatch

    def __str__(self) -> str:
        return (
            f"This file was uploaded before, as batch #{self.earlier.pk} "
            f"({self.earlier.get_status_display().lower()}); it is not taken twice."
        )


def credit_batch_permission_check(*, staff: User) -> None:
    if not (staff.has_perm("payments.apply_credit_batch") and staff.has_perm("payments.adjust_credits")):
        raise PermissionDenied("You do not have permission to change credits in bulk.")


@dataclass
class _ParsedRow:
    line: int
    customer_ref: str
    delta_text: str
    note: str


def _file_rows(*, upload: UploadedFile) -> tuple[str, list[_ParsedRow]]:
    """The file's SHA-256 and its data rows; refused whole when it cannot be read as our CSV."""
    if upload.size is not None and upload.size > CREDIT_BATCH_MAX_BYTES:
        raise CreditBatchRefused(
            f"The file is over {CREDIT_BATCH_MAX_BYTES // (1024 * 1024)} MB; split it in smaller files."
        )
    content = upload.read(CREDIT_BATCH_MAX_BYTES + 1)
    if len(content) > CREDIT_BATCH_MAX_BYTES:
        raise CreditBatchRefused(
            f"The file is over {CREDIT_BATCH_MAX_BYTES // (1024 * 1024)} MB; split it in smaller files."
        )
    if not content.strip():
        raise CreditBatchRefused("The file is empty.")
    digest = hashlib.sha256(content).hexdigest()
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CreditBatchRefused("The file is not UTF-8 text: save it from the spreadsheet as “CSV UTF-8”.") from error
    if "\x00" in text:
        raise CreditBatchRefused("The file is not a CSV text file.")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, [])
        names = [name.strip().lower() for name in header]
        columns = {}
        for role, accepted in (("customer", CUSTOMER_COLUMNS), ("delta", DELTA_COLUMNS), ("note", NOTE_COLUMNS)):
            columns[role] = next((names.index(name) for name in accepted if name in names), None)
        if columns["customer"] is None or columns["delta"] is None:
            raise CreditBatchRefused(
                "The first line must name the columns: customer (an email or an id), credits_delta, note."
            )
        rows = []
        for record in reader:
            if not any(cell.strip() for cell in record):
                continue
            if len(rows) >= CREDIT_BATCH_MAX_ROWS:
                raise CreditBatchRefused(
                    f"The file has over {CREDIT_BATCH_MAX_ROWS:,} rows; split it in smaller files."
                )

            def cell(role: str, record=record) -> str:
                index = columns[role]
                return record[index].strip() if index is not None and index < len(record) else ""

            rows.append(
                _ParsedRow(
                    line=reader.line_num, customer_ref=cell("customer"), delta_text=cell("delta"), note=cell("note")
                )
            )
    except csv.Error as error:
        raise CreditBatchRefused(f"Line {reader.line_num} is not valid CSV: {error}.") from error
    if not rows:
        raise CreditBatchRefused("The file has no rows under its header.")
    return digest, rows


def _customers_named(rows: list[_ParsedRow]) -> tuple[dict[int, User], dict[str, User]]:
    """The customers the rows name, by id and by lower-case email: two queries for the whole file."""
    ids = {int(row.customer_ref) for row in rows if row.customer_ref.isascii() and row.customer_ref.isdigit()}
    ids = {pk for pk in ids if pk < 2**63}
    emails = {row.customer_ref.lower() for row in rows if "@" in row.customer_ref}
    by_id = {user.pk: user for user in User.objects.filter(pk__in=ids)} if ids else {}
    by_email = {}
    if emails:
        # lower(email), as the unique index has it: `iexact` (UPPER) would read the whole table.
        for user in User.objects.alias(email_lower=Lower("email")).filter(email_lower__in=emails):
            by_email[user.email.lower()] = user
    return by_id, by_email


def _row_verdict(*, row: CreditBatchRow, actor: User, any_amount: bool) -> None:
    """Judge one row with a customer and a delta, as `credits_adjust` would (without its locks)."""
    delta, customer = row.credits_delta, row.customer
    new_balance = customer.credits + delta
    problem = ""
    if delta == 0:
        problem = "A change of 0 changes nothing."
    elif actor.is_same_person_as(customer):
        problem = "This is your own account (same person, email or phone): ask another staff member."
    elif new_balance < 0:
        problem = f"The balance is {customer.credits:,}: a change of {delta:+,} would take it below 0."
    elif new_balance > settings.CREDITS_MAX_BALANCE:
        problem = (
            f"The balance would be {new_balance:,}, over the most an account holds ({settings.CREDITS_MAX_BALANCE:,})."
        )
    elif not any_amount and abs(delta) > settings.CREDITS_SUPPORT_MAX_CHANGE:
        problem = f"Your role can change credits by at most {settings.CREDITS_SUPPORT_MAX_CHANGE:,} at a time."
    if problem:
        row.verdict, row.verdict_message = CreditBatchRow.Verdict.INVALID, problem
    elif abs(delta) > settings.CREDITS_APPROVAL_THRESHOLD:
        row.verdict = CreditBatchRow.Verdict.NEEDS_APPROVAL
        row.verdict_message = (
            f"Over {settings.CREDITS_APPROVAL_THRESHOLD:,} credits: it becomes a request on the Approvals page."
        )
    else:
        row.verdict, row.verdict_message = CreditBatchRow.Verdict.READY, f"{customer.credits:,} → {new_balance:,}"


def credit_batch_check(*, upload: UploadedFile, actor: User) -> CreditBatch:
    """The dry run: judge every row of the uploaded CSV and keep the batch for review. Writes no
    credits; refuses the same file twice (`CreditBatchDuplicate`) and an unreadable one
    (`CreditBatchRefused`)."""
    credit_batch_permission_check(staff=actor)
    digest, parsed = _file_rows(upload=upload)
    earlier = CreditBatch.objects.filter(content_sha256=digest).first()
    if earlier is not None:
        raise CreditBatchDuplicate(earlier)
    by_id, by_email = _customers_named(parsed)
    any_amount = actor.has_perm("payments.adjust_credits_any_amount")
    rows: list[CreditBatchRow] = []
    lines_of: dict[int, list[int]] = {}
    for item in parsed:
        row = CreditBatchRow(line=item.line, customer_ref=item.customer_ref[:254], note=item.note)
        ref = item.customer_ref
        row.customer = (
            by_email.get(ref.lower())
            if "@" in ref
            else by_id.get(int(ref))
            if ref.isascii() and ref.isdigit() and int(ref) < 2**63
            else None
        )
        problem = ""
        if not ref:
            problem = "No customer: give their email or id."
        elif row.customer is None:
            problem = "No customer has this email or id."
        if not _WHOLE_NUMBER.fullmatch(item.delta_text):
            problem = problem or "The credits change must be a whole number such as 250 or -100."
        else:
            row.credits_delta = int(item.delta_text)
        if len(item.note) > CREDIT_BATCH_NOTE_MAX:
            problem = problem or f"The note is over {CREDIT_BATCH_NOTE_MAX} characters."
        if row.customer is not None:
            row.balance_seen = row.customer.credits
            lines_of.setdefault(row.customer.pk, []).append(item.line)
        if problem:
            row.verdict, row.verdict_message = CreditBatchRow.Verdict.INVALID, problem
        else:
            _row_verdict(row=row, actor=actor, any_amount=any_amount)
        rows.append(row)
    for row in rows:
        # The same customer twice: which line wins is a guess, so neither is applied.
        others = [line for line in lines_of.get(row.customer_id, []) if line != row.line] if row.customer_id else []
        if others:
            conflict = f"The same customer is also on line {', '.join(map(str, others))}: put their change on one line."
            if row.verdict == CreditBatchRow.Verdict.INVALID:
                conflict = f"{row.verdict_message} {conflict}"
            row.verdict, row.verdict_message = CreditBatchRow.Verdict.INVALID, conflict
    with transaction.atomic():
        batch = CreditBatch.objects.create(
            filename=(upload.name or "credits.csv")[:255], content_sha256=digest, uploaded_by=actor, row_count=len(rows)
        )
        for row in rows:
            row.batch = batch
        CreditBatchRow.objects.bulk_create(rows, batch_size=2000)
        audit_record(
            action=PaymentAction.CREDIT_BATCH_CHECKED,
            actor=actor,
            about=batch,
            after={"filename": batch.filename, "rows": len(rows), **credit_batch_counts(batch=batch)},
        )
    return batch


def credit_batch_counts(*, batch: CreditBatch) -> dict[str, int]:
    """How many rows the dry run found ready, needing approval and invalid."""
    counts = dict.fromkeys(CreditBatchRow.Verdict.values, 0)
    for verdict in batch.rows.values_list("verdict", flat=True).order_by():
        counts[verdict] += 1
    return counts


def credit_batch_apply_start(*, batch: CreditBatch, actor: User) -> CreditBatch:
    """Queue the batch for applying. Refused if it was already queued or applied."""
    credit_batch_permission_check(staff=actor)
    with transaction.atomic():
        # Locked: two clicks on Apply, or two staff members, must not queue the batch twice.
        locked = CreditBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.status != CreditBatch.Status.CHECKED:
            raise CreditBatchRefused(f"This batch is already {locked.get_status_display().lower()}.")
        skipped = locked.rows.filter(verdict=CreditBatchRow.Verdict.INVALID, outcome="").update(
            outcome=CreditBatchRow.Outcome.SKIPPED, outcome_message="Not applied: see the dry run."
        )
        locked.status = CreditBatch.Status.QUEUED
        locked.applied_by = actor
        locked.apply_started_at = timezone.now()
        locked.rows_done = skipped
        locked.save(update_fields=["status", "applied_by", "apply_started_at", "rows_done"])
        transaction.on_commit(lambda: credit_batch_apply_job.defer(batch_id=locked.pk))
    return locked


def _row_finish(*, row_pk: int, batch_pk: int, outcome: str, message: str) -> None:
    """Record a row that was not applied, once (a re-run of the job finds it done)."""
    with transaction.atomic():
        if CreditBatchRow.objects.filter(pk=row_pk, outcome="").update(outcome=outcome, outcome_message=message):
            CreditBatch.objects.filter(pk=batch_pk).update(rows_done=F("rows_done") + 1)


def _row_apply(*, row_pk: int, batch: CreditBatch) -> None:
    try:
        # The dry run judged the uploader's own account; whoever applies is asked here, outside the
        # row's transaction, so that the refusal's audit event outlives the refusal.
        row = CreditBatchRow.objects.select_related("customer").get(pk=row_pk)
        if not row.outcome and batch.applied_by.is_same_person_as(row.customer):
            credits_self_service_refuse(
                actor=batch.applied_by,
                customer=row.customer,
                attempted={"new_balance": row.balance_seen + row.credits_delta},
            )
        with transaction.atomic():
            # The row's lock: a second run of the job waits here, then finds the row done.
            row = CreditBatchRow.objects.select_for_update(of=("self",)).select_related("customer").get(pk=row_pk)
            if row.outcome:
                return
            note = f"{row.note} (bulk file #{batch.pk}, line {row.line})".strip()
            result = credits_adjust(
                user=row.customer,
                new_balance=row.balance_seen + row.credits_delta,
                expected_balance=row.balance_seen,
                actor=batch.applied_by,
                note=note,
            )
            if isinstance(result, CreditChangeRequest):
                row.outcome = CreditBatchRow.Outcome.APPROVAL_REQUESTED
                row.credit_change_request = result
                row.outcome_message = "Waiting for a second staff member on the Approvals page."
            else:
                row.outcome = CreditBatchRow.Outcome.APPLIED
                row.ledger_entry = result
                row.outcome_message = f"Balance now {result.balance_after:,}."
            row.save(update_fields=["outcome", "outcome_message", "ledger_entry", "credit_change_request"])
            CreditBatch.objects.filter(pk=batch.pk).update(rows_done=F("rows_done") + 1)
    except CreditsConflict as conflict:
        message = (
            f"The balance moved since the dry run (now {conflict.current_balance:,}): nothing changed. "
            "Upload a new file for this customer."
        )
        _row_finish(row_pk=row_pk, batch_pk=batch.pk, outcome=CreditBatchRow.Outcome.FAILED, message=message)
    except (CreditsRefused, PermissionDenied) as refusal:
        _row_finish(row_pk=row_pk, batch_pk=batch.pk, outcome=CreditBatchRow.Outcome.FAILED, message=str(refusal))
    except (OperationalError, InterfaceError):
        raise  # the database is away: the job is retried, and finds the rows done so far done
    except Exception:
        # One row's surprise must not stop the others; the log has the row, not the customer.
        logger.exception("credit batch %s: row %s failed unexpectedly", batch.pk, row_pk)
        _row_finish(
            row_pk=row_pk,
            batch_pk=batch.pk,
            outcome=CreditBatchRow.Outcome.FAILED,
            message="An unexpected error: nothing changed for this row.",
        )


def credit_batch_rows_apply(*, batch_id: int) -> CreditBatch:
    """The apply job: every row not yet done, in file order, then the batch's audit event."""
    batch = CreditBatch.objects.select_related("applied_by").get(pk=batch_id)
    if batch.status == CreditBatch.Status.APPLIED:
        return batch
    CreditBatch.objects.filter(pk=batch.pk, status=CreditBatch.Status.QUEUED).update(status=CreditBatch.Status.APPLYING)
    pending = list(batch.rows.filter(outcome="").order_by("line").values_list("pk", flat=True))
    for row_pk in pending:
        _row_apply(row_pk=row_pk, batch=batch)
    with transaction.atomic():
        locked = CreditBatch.objects.select_for_update().get(pk=batch.pk)
        if locked.status == CreditBatch.Status.APPLIED:
            return locked
        locked.status = CreditBatch.Status.APPLIED
        locked.applied_at = timezone.now()
        locked.save(update_fields=["status", "applied_at"])
        outcomes = list(locked.rows.order_by("line").values_list("line", "customer_id", "credits_delta", "outcome"))
        counts = dict.fromkeys(CreditBatchRow.Outcome.values[1:], 0)
        for *_, outcome in outcomes:
            counts[outcome] = counts.get(outcome, 0) + 1
        audit_record(
            action=PaymentAction.CREDIT_BATCH_APPLIED,
            actor=locked.applied_by,
            about=locked,
            after={
                "filename": locked.filename,
                **{f"rows_{name}": count for name, count in counts.items()},
                # Every row: [line, customer id, credits delta, outcome].
                "rows": [list(outcome) for outcome in outcomes],
            },
        )
    return locked


# Defined here (payments/tasks.py re-exports it for procrastinate's discovery), so that this
# module can defer it without an import cycle.
@app.task(name="payments.credit_batch_apply", queue="payments")
def credit_batch_apply_job(batch_id: int) -> None:
    """Apply a checked batch's rows; safe to run again (rows done are skipped)."""
    credit_batch_rows_apply(batch_id=batch_id)
