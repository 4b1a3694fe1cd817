from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from books.selectors import (
    books_check_counts,
    books_check_last,
    books_check_offenders,
    books_check_rules,
    drift_check_counts,
    drift_check_last,
    drift_check_lines,
)
from core.access import staff_required
from core.htmx import HtmxHttpRequest
from payments.selectors import stripe_webhook_api_version


@require_GET
@staff_required
def books(request: HtmxHttpRequest) -> HttpResponse:
    if not request.user.has_perm("books.view_books"):
        raise PermissionDenied("The books check is for Finance and Administrators.")
    check, drift = books_check_last(), drift_check_last()
    context = {"check": check, "drift": drift, "webhook_version": stripe_webhook_api_version(), "nav": "books"}
    if check is not None:
        context |= {
            "counts": books_check_counts(check=check),
            "rules": books_check_rules(check=check),
            "offenders": books_check_offenders(check=check),
        }
    if drift is not None:
        context |= {"drift_counts": drift_check_counts(check=drift), "drift_lines": drift_check_lines(check=drift)}
    return render(request, "books/books.html", context)
