from dataclasses import asdict

from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET

from audit.access import audit_permission_check
from audit.actions import AuditAction
from audit.export import audit_csv_lines
from audit.forms import AuditFilterForm
from audit.selectors import audit_page
from audit.services import audit_record
from core.access import staff_required
from core.downloads import csv_download
from core.htmx import HtmxHttpRequest


@require_GET
@staff_required
def audit_log(request: HtmxHttpRequest) -> HttpResponse:
    audit_permission_check(staff=request.user)
    form = AuditFilterForm(request.GET)
    page = None
    status = 200
    if form.is_valid():
        page = audit_page(filters=form.filters(), before=form.cleaned_data["before"])
    else:
        status = 422
    context = {"form": form, "page": page, "nav": "audit"}
    return render(request, "audit/audit_log.html", context, status=status)


@require_GET
@staff_required
def audit_export(request: HtmxHttpRequest) -> HttpResponse:
    """The filtered audit log as CSV, streamed row by row (the export itself is audited)."""
    audit_permission_check(staff=request.user, codename="export_auditevent")
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest("Fix the filters before exporting: " + form.errors.as_text())
    filters = form.filters()
    audit_record(action=AuditAction.EXPORTED, actor=request.user, after=asdict(filters))
    return csv_download(audit_csv_lines(filters=filters), filename="statstak-audit-log.csv")
