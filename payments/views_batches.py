"""Bulk credit changes from a CSV file: upload and dry run, review, apply with a progress bar, and
the result file."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.access import staff_required
from core.downloads import csv_download
from core.htmx import HtmxHttpRequest
from payments.forms_batches import CreditBatchUploadForm
from payments.models import CreditBatch
from payments.selectors_batches import (
    REVIEW_ROWS_SHOWN,
    credit_batch_result_lines,
    credit_batch_rows_for_review,
    credit_batches_recent,
)
from payments.services.credit_batches import (
    CreditBatchDuplicate,
    CreditBatchRefused,
    credit_batch_apply_start,
    credit_batch_check,
    credit_batch_counts,
    credit_batch_permission_check,
)

DETAIL = "payments/credit_batch_detail.html"


@require_http_methods(["GET", "POST"])
@staff_required
def credit_batches(request: HtmxHttpRequest) -> HttpResponse:
    """The upload form (a POST is the dry run) and the recent batches."""
    credit_batch_permission_check(staff=request.user)
    form = CreditBatchUploadForm()
    status = 200
    earlier = None
    if request.method == "POST":
        form = CreditBatchUploadForm(request.POST, request.FILES)
        status = 422
        if form.is_valid():
            try:
                batch = credit_batch_check(upload=form.cleaned_data["file"], actor=request.user)
            except CreditBatchDuplicate as duplicate:
                earlier = duplicate.earlier
                form.add_error("file", str(duplicate))
                status = 409
            except CreditBatchRefused as refusal:
                form.add_error("file", str(refusal))
            else:
                return redirect("credit_batch_detail", batch_pk=batch.pk)
    context = {"form": form, "batches": credit_batches_recent(), "earlier": earlier, "nav": "credit_batches"}
    return render(request, "payments/credit_batch_list.html", context, status=status)


def _batch_get(request: HtmxHttpRequest, batch_pk: int) -> CreditBatch:
    credit_batch_permission_check(staff=request.user)
    return get_object_or_404(CreditBatch.objects.select_related("uploaded_by", "applied_by"), pk=batch_pk)


@require_GET
@staff_required
def credit_batch_detail(request: HtmxHttpRequest, batch_pk: int) -> HttpResponse:
    batch = _batch_get(request, batch_pk)
    context = {
        "batch": batch,
        "counts": credit_batch_counts(batch=batch),
        "rows": credit_batch_rows_for_review(batch=batch),
        "rows_shown": REVIEW_ROWS_SHOWN,
        "nav": "credit_batches",
    }
    return render(request, DETAIL, context)


@require_POST
@staff_required
def credit_batch_apply(request: HtmxHttpRequest, batch_pk: int) -> HttpResponse:
    batch = _batch_get(request, batch_pk)
    try:
        batch = credit_batch_apply_start(batch=batch, actor=request.user)
    except CreditBatchRefused as refusal:
        if request.htmx:
            return render(request, DETAIL + "#batch-progress", {"batch": batch, "refusal": str(refusal)}, status=422)
        messages.error(request, str(refusal))
        return redirect("credit_batch_detail", batch_pk=batch.pk)
    if request.htmx:
        return render(request, DETAIL + "#batch-progress", {"batch": batch})
    return redirect("credit_batch_detail", batch_pk=batch.pk)


@require_GET
@staff_required
def credit_batch_progress(request: HtmxHttpRequest, batch_pk: int) -> HttpResponse:
    """The progress region, which polls itself until the batch is applied."""
    return render(request, DETAIL + "#batch-progress", {"batch": _batch_get(request, batch_pk)})


@require_GET
@staff_required
def credit_batch_result(request: HtmxHttpRequest, batch_pk: int) -> HttpResponse:
    """Every row with its dry-run verdict and its outcome, as CSV."""
    batch = _batch_get(request, batch_pk)
    return csv_download(credit_batch_result_lines(batch=batch), filename=f"credit-batch-{batch.pk}-result.csv")
