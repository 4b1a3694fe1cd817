"""The Refunds page: every customer's refunds, filtered, paged, and exported as CSV."""

from dataclasses import asdict

from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.models import User
from audit.services import audit_record
from core.access import staff_required
from core.downloads import csv_download
from core.htmx import HtmxHttpRequest
from refunds.audit import RefundAction
from refunds.forms_list import RefundListFilterForm
from refunds.selectors_list import refund_csv_lines, refunds_page


def refunds_view_all_check(*, staff: User) -> None:
    if not staff.has_perm("refunds.view_all_refunds"):
        raise PermissionDenied("You do not have permission to see the refunds of every customer.")


@require_GET
@staff_required
def refunds_all(request: HtmxHttpRequest) -> HttpResponse:
    refunds_view_all_check(staff=request.user)
    form = RefundListFilterForm(request.GET)
    page = None
    status = 200
    if form.is_valid():
        page = refunds_page(filters=form.filters(), after=form.cleaned_data["cursor"])
    else:
        status = 422
    context = {"form": form, "page": page, "nav": "refunds"}
    return render(request, "refunds/refunds_all.html", context, status=status)


@require_GET
@staff_required
def refunds_export(request: HtmxHttpRequest) -> HttpResponse:
    """The filtered refunds as CSV, streamed row by row; the export itself is audited."""
    refunds_view_all_check(staff=request.user)
    form = RefundListFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest("Fix the filters before exporting: " + form.errors.as_text())
    filters = form.filters()
    audit_record(action=RefundAction.EXPORTED, actor=request.user, after={"filters": asdict(filters)})
    return csv_download(refund_csv_lines(filters=filters), filename="statstak-refunds.csv")
