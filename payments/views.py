from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from accounts.access import user_get_for_staff
from accounts.models import User
from accounts.views import HtmxHttpRequest, profile_render
from audit.selectors import AuditFilter, audit_events
from core.access import staff_required
from notifications.selectors import sms_message_list
from payments.forms import CreditsForm, HistoryPageForm, credits_conflict_message
from payments.selectors import ledger_history, payment_history
from payments.services import CreditsConflict, CreditsRefused, credits_adjust

RECENT_ENTRIES = 5


def _payment_info_context(request: HtmxHttpRequest, customer: User, form: CreditsForm | None = None) -> dict:
    if form is None:
        form = CreditsForm(initial={"credits": customer.credits, "expected_balance": customer.credits})
    return {
        "customer": customer,
        "credits_form": form,
        "can_adjust_credits": request.user.has_perm("payments.adjust_credits"),
    }


def _payments_tab_context(
    request: HtmxHttpRequest, customer: User, form: CreditsForm | None = None, before: int | None = None
) -> dict:
    """Everything the whole Payments tab shows: Payment info, recent credit changes, Past payments."""
    return _payment_info_context(request, customer, form) | {
        "recent": ledger_history(user=customer, limit=RECENT_ENTRIES),
        "history": payment_history(user=customer, before=before),
        "can_refund": request.user.has_perm("refunds.execute_refund"),
    }


@require_GET
@staff_required
def user_payments(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    customer = user_get_for_staff(staff=request.user, pk=pk)
    form = HistoryPageForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest("The “before” page marker must be a positive whole number.")
    # Regions that refresh themselves after a refund or a credits change (HTMX events).
    if request.htmx and request.htmx.target == "payment-info":
        return render(request, "payments/payment_info.html", _payment_info_context(request, customer))
    context = _payments_tab_context(request, customer, before=form.cleaned_data["before"])
    if request.htmx and request.htmx.target == "past-payments":
        return render(request, "payments/past_payments.html", context)
    return profile_render(
        request, customer=customer, tab="payments", template_name="payments/user_payments.html", context=context
    )


@require_GET
@staff_required
def user_activity(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    customer = user_get_for_staff(staff=request.user, pk=pk)
    form = HistoryPageForm(request.GET)
    if not form.is_valid():
        return HttpResponseBadRequest("The “before” page marker must be a positive whole number.")
    history = ledger_history(user=customer, before=form.cleaned_data["before"])
    template_name = "payments/user_activity.html"
    if request.htmx and request.htmx.target == "credit-history":
        return render(request, template_name + "#credit-history", {"customer": customer, "history": history})
    context = {
        "history": history,
        "sms_page": sms_message_list(user=customer),
        "audit_events": list(audit_events(filters=AuditFilter(target_user_id=customer.pk))[:20]),
    }
    return profile_render(request, customer=customer, tab="activity", template_name=template_name, context=context)


@require_GET
@staff_required
def credit_history_recent(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    customer = user_get_for_staff(staff=request.user, pk=pk)
    recent = ledger_history(user=customer, limit=RECENT_ENTRIES)
    return render(request, "payments/credit_history_recent.html", {"customer": customer, "recent": recent})


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

    if entry is not None and not request.htmx:
        messages.success(request, f"Saved: {customer.full_name} now has {customer.credits:,} credits.")
        return redirect("user_payments", pk=customer.pk)

    if entry is not None:
        context = _payment_info_context(request, customer)
        context.update(saved_entry=entry, oob_profile_credits=True)
        response = render(request, "payments/payment_info.html", context)
        return trigger_client_event(response, "credits-changed")

    if request.htmx:
        context = _payment_info_context(request, customer, form) | {"oob_profile_credits": status == 409}
        return render(request, "payments/payment_info.html", context, status=status)
    context = _payments_tab_context(request, customer, form)
    return profile_render(
        request,
        customer=customer,
        tab="payments",
        template_name="payments/user_payments.html",
        context=context,
        status=status,
    )
