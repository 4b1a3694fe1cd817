from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from accounts.access import user_get_for_staff
from accounts.models import User
from accounts.views import profile_render
from core.access import staff_required
from core.htmx import HtmxHttpRequest
from payments.forms import (
    CreditChangeDecisionForm,
    CreditsForm,
    HistoryPageForm,
    credit_change_requested_message,
    credits_conflict_message,
)
from payments.models import CreditChangeRequest
from payments.selectors import credits_allowance, ledger_history, payment_history
from payments.services import (
    CreditsConflict,
    CreditsRefused,
    credit_change_approve,
    credit_change_reject,
    credits_adjust,
)

RECENT_ENTRIES = 5
BAD_PAGE_MARKER = "The “before” page marker must be a positive whole number."
# The Payments tab and its regions, each of which HTMX swaps on its own.
PAYMENTS_TAB = "payments/user_payments.html"
ACTIVITY_TAB = "payments/user_activity.html"


def _payment_info_context(request: HtmxHttpRequest, customer: User, form: CreditsForm | None = None) -> dict:
    if form is None:
        form = CreditsForm(initial={"credits": customer.credits, "expected_balance": customer.credits})
    can_adjust = request.user.has_perm("payments.adjust_credits")
    return {
        "customer": customer,
        "credits_form": form,
        "can_adjust_credits": can_adjust,
        "own_account": request.user.is_same_person_as(customer),
        "allowance": credits_allowance(staff=request.user, customer=customer) if can_adjust else None,
    }


def _past_payments_context(request: HtmxHttpRequest, customer: User, before: int | None = None) -> dict:
    return {
        "customer": customer,
        "history": payment_history(user=customer, before=before),
        "can_refund": request.user.has_perm("refunds.execute_refund"),
    }


def _payments_tab_context(
    request: HtmxHttpRequest, customer: User, form: CreditsForm | None = None, before: int | None = None
) -> dict:
    """Everything the whole Payments tab shows: Payment info, recent credit changes, Past payments."""
    return (
        _payment_info_context(request, customer, form)
        | _past_payments_context(request, customer, before)
        | {"recent": ledger_history(user=customer, limit=RECENT_ENTRIES)}
    )


@require_GET
@staff_required
def user_payments(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    customer = user_get_for_staff(staff=request.user, pk=pk)
    form = HistoryPageForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(BAD_PAGE_MARKER)
    context = _payments_tab_context(request, customer, before=form.cleaned_data["before"])
    # The payment a search by id jumped to (payments/lookup.py), marked in Past payments.
    highlighted = request.GET.get("payment", "")
    context["highlighted_payment"] = int(highlighted) if highlighted.isdigit() and len(highlighted) < 19 else None
    return profile_render(request, customer=customer, tab="payments", template_name=PAYMENTS_TAB, context=context)


@require_GET
@staff_required
def payment_info(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The Payment info region alone: it refreshes itself after a refund (`refund-executed`)."""
    customer = user_get_for_staff(staff=request.user, pk=pk)
    return render(request, PAYMENTS_TAB + "#payment-info", _payment_info_context(request, customer))


@require_GET
@staff_required
def past_payments(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The Past payments region alone: its pager, and its refresh after a refund (`refund-executed`)."""
    customer = user_get_for_staff(staff=request.user, pk=pk)
    form = HistoryPageForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(BAD_PAGE_MARKER)
    context = _past_payments_context(request, customer, before=form.cleaned_data["before"])
    return render(request, PAYMENTS_TAB + "#past-payments", context)


@require_GET
@staff_required
def credit_history_recent(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The Recent credit changes region alone: it refreshes itself after a credits change or a refund."""
    customer = user_get_for_staff(staff=request.user, pk=pk)
    recent = ledger_history(user=customer, limit=RECENT_ENTRIES)
    return render(request, PAYMENTS_TAB + "#credit-history-recent", {"customer": customer, "recent": recent})


@require_GET
@staff_required
def credit_history(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The Credit history region of the Activity tab alone: its pager."""
    customer = user_get_for_staff(staff=request.user, pk=pk)
    form = HistoryPageForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest(BAD_PAGE_MARKER)
    history = ledger_history(user=customer, before=form.cleaned_data["before"])
    return render(request, ACTIVITY_TAB + "#credit-history", {"customer": customer, "history": history})


@require_POST
@staff_required
def credits_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    customer = user_get_for_staff(staff=request.user, pk=pk)
    if not request.user.has_perm("payments.adjust_credits"):
        raise PermissionDenied("You do not have permission to change credits.")
    form = CreditsForm(request.POST)
    status = 422
    entry = None
    if form.is_valid():
        try:
            entry = credits_adjust(
                user=customer,
                new_balance=form.cleaned_data["credits"],
                expected_balance=form.cleaned_data["expected_balance"],
                actor=request.user,
                note=form.cleaned_data["note"],
            )
        except CreditsRefused as refusal:
            form.add_error("credits", str(refusal))
        except CreditsConflict as conflict:
            form.add_error("credits", credits_conflict_message(conflict))
            form.rebase(expected_balance=conflict.current_balance)
            customer.credits = conflict.current_balance  # the page shows the balance the next save is based on
            status = 409

    if isinstance(entry, CreditChangeRequest):
        if not request.htmx:
            messages.success(request, credit_change_requested_message(entry))
            return redirect("user_payments", pk=customer.pk)
        context = _payment_info_context(request, customer) | {"requested_change": entry}
        return render(request, PAYMENTS_TAB + "#payment-info", context)

    if entry is not None and not request.htmx:
        messages.success(request, f"Saved: {customer.full_name} now has {customer.credits:,} credits.")
        return redirect("user_payments", pk=customer.pk)

    if entry is not None:
        context = _payment_info_context(request, customer)
        context.update(saved_entry=entry, oob_profile_credits=True)
        response = render(request, PAYMENTS_TAB + "#payment-info", context)
        return trigger_client_event(response, "credits-changed")

    if request.htmx:
        context = _payment_info_context(request, customer, form) | {"oob_profile_credits": status == 409}
        return render(request, PAYMENTS_TAB + "#payment-info", context, status=status)
    context = _payments_tab_context(request, customer, form)
    return profile_render(
        request, customer=customer, tab="payments", template_name=PAYMENTS_TAB, context=context, status=status
    )


def _credit_change_for_decision(*, staff: User, change_pk: int) -> CreditChangeRequest:
    if not staff.has_perm("payments.approve_credit_change"):
        raise PermissionDenied("You do not have permission to approve credit changes.")
    return get_object_or_404(CreditChangeRequest.objects.select_related("user", "requested_by"), pk=change_pk)


def _credit_decision_render(request: HtmxHttpRequest, change: CreditChangeRequest, error: str = "") -> HttpResponse:
    """The change's row on the Approvals page, decided or with the reason it was not; without
    JavaScript, back to the Approvals page."""
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("approvals")
    context = {"change": change, "error": error}
    return render(request, "payments/credit_changes.html#credit-change-row", context, status=422 if error else 200)


@require_POST
@staff_required
def credit_change_approve_view(request: HtmxHttpRequest, change_pk: int) -> HttpResponse:
    change = _credit_change_for_decision(staff=request.user, change_pk=change_pk)
    try:
        change = credit_change_approve(change=change, approver=request.user)
    except CreditsRefused as refusal:
        change.refresh_from_db()  # show where it stands now
        return _credit_decision_render(request, change, error=str(refusal))
    return _credit_decision_render(request, change)


@require_POST
@staff_required
def credit_change_reject_view(request: HtmxHttpRequest, change_pk: int) -> HttpResponse:
    change = _credit_change_for_decision(staff=request.user, change_pk=change_pk)
    form = CreditChangeDecisionForm(request.POST)
    if not form.is_valid():
        return _credit_decision_render(request, change, error=" ".join(form.errors["reason"]))
    try:
        change = credit_change_reject(change=change, approver=request.user, reason=form.cleaned_data["reason"])
    except CreditsRefused as refusal:
        change.refresh_from_db()
        return _credit_decision_render(request, change, error=str(refusal))
    return _credit_decision_render(request, change)
