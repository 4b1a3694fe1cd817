from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from accounts.models import User
from core.access import staff_required
from core.htmx import HtmxHttpRequest
from payments.models import Payment
from payments.selectors import credit_changes_awaiting_approval, payment_dispute
from refunds.access import payment_get_for_staff, refund_permission_check
from refunds.forms import RefundDecisionForm, RefundForm, RefundPreviewForm
from refunds.limits import refund_rate_limited
from refunds.models import Refund
from refunds.selectors import refund_credits_suggested, refund_form_initial, refund_list, refunds_awaiting_approval
from refunds.selectors_dialog import (
    RefundPreview,
    refund_get_for_payment,
    refund_outcome,
    refund_preview,
    refund_sms,
)
from refunds.services import (
    RefundRefused,
    RefundStale,
    RefundUnrecorded,
    payment_refundable,
    refund_approve,
    refund_execute,
    refund_reject,
)


def _preview_for(request: HtmxHttpRequest, payment: Payment, form: RefundForm) -> RefundPreview:
    """The preview of what the form, as it stands, would do (valid or not: a field that does not
    parse yet is left out and said so)."""
    cleaned = {}
    if form.is_bound:
        form.is_valid()  # cached: a submitted form is judged once
        cleaned = form.cleaned_data
    problem = " ".join(form.errors.get("amount", [])) if form.is_bound and form.data.get("amount") else ""
    return refund_preview(
        payment=payment,
        staff=request.user,
        type=cleaned.get("type") or "",
        amount=cleaned.get("amount"),
        credits_to_remove=None if "credits_to_remove" in form.errors else form_credits_typed(form),
        notify_customer=bool(cleaned.get("notify_customer")) if form.is_bound else bool(payment.user.phone),
        problem=problem,
    )


def form_credits_typed(form: RefundForm) -> int | None:
    """The credits to remove as typed (None: left empty, so the suggestion)."""
    if not form.is_bound or not str(form.data.get("credits_to_remove", "")).strip():
        return None
    return form.cleaned_data.get("credits_to_remove")


def _dialog_render(request: HtmxHttpRequest, payment: Payment, form: RefundForm, status: int = 200) -> HttpResponse:
    refundable = payment_refundable(payment=payment)
    preview = _preview_for(request, payment, form)
    context = {
        "customer": payment.user,
        "payment": payment,
        "refundable": refundable,
        "refunds": refund_list(payment=payment),
        "form": form,
        "preview": preview,
        "allowance": preview.allowance,
        "own_account": request.user.is_same_person_as(payment.user),
        "dispute": payment_dispute(payment=payment),
        "suggested_credits": refund_credits_suggested(payment=payment, amount=preview.amount or None)
        if preview.amount
        else 0,
    }
    if not request.htmx:
        return render(request, "refunds/refund_page.html", context | {"nav": "users"}, status=status)
    # The form posts into its own panel; opening it fills the whole dialog.
    if request.method == "POST":
        return render(request, "refunds/refund_dialog.html#refund-panel", context, status=status)
    return render(request, "refunds/refund_dialog.html", context, status=status)


def _result_render(request: HtmxHttpRequest, payment: Payment, refund: Refund) -> HttpResponse:
    payment.refresh_from_db()
    payment.user.refresh_from_db()
    context = {
        "customer": payment.user,
        "payment": payment,
        "refund": refund,
        "outcome": refund_outcome(refund),
        "refundable": payment_refundable(payment=payment),
        "refunds": refund_list(payment=payment),
        "dispute": payment_dispute(payment=payment),
        "nav": "users",
    }
    template_name = "refunds/refund_result.html" if request.htmx else "refunds/refund_result_page.html"
    response = render(request, template_name, context)
    if refund.status != Refund.Status.FAILED:
        trigger_client_event(response, "refund-executed")
    return response


@require_GET
@staff_required
def refund_preview_view(request: HtmxHttpRequest, pk: int, payment_pk: int) -> HttpResponse:
    """The preview region of the refund dialog, for the form's values as they are being typed
    (sent as query parameters; nothing is written)."""
    payment = payment_get_for_staff(staff=request.user, user_pk=pk, payment_pk=payment_pk)
    refund_permission_check(staff=request.user)
    form = RefundPreviewForm(request.GET, payment=payment)
    context = {"customer": payment.user, "payment": payment, "preview": _preview_for(request, payment, form)}
    return render(request, "refunds/refund_preview.html", context)


@require_GET
@staff_required
def refund_sms_status(request: HtmxHttpRequest, pk: int, payment_pk: int, refund_pk: int) -> HttpResponse:
    """The customer's text message about a refund, as it stands: the result polls this while the
    dialog is open, until the message moves no further."""
    payment = payment_get_for_staff(staff=request.user, user_pk=pk, payment_pk=payment_pk)
    refund = refund_get_for_payment(payment=payment, refund_pk=refund_pk)
    if refund is None:
        raise Http404("No such refund on this payment.")
    poll = request.GET.get("poll", "")
    context = {
        "customer": payment.user,
        "payment": payment,
        "refund": refund,
        "sms": refund_sms(refund),
        # How many times the open dialog asked: it stops after a while (the Activity tab keeps it).
        "poll": int(poll) if poll.isascii() and poll.isdigit() and len(poll) < 6 else 0,
    }
    return render(request, "refunds/refund_sms_status.html", context)


@require_http_methods(["GET", "POST"])
@staff_required
def refund_create(request: HtmxHttpRequest, pk: int, payment_pk: int) -> HttpResponse:
    payment = payment_get_for_staff(staff=request.user, user_pk=pk, payment_pk=payment_pk)
    refund_permission_check(staff=request.user)

    if request.method == "GET":
        form = RefundForm(payment=payment, initial=refund_form_initial(payment=payment))
        return _dialog_render(request, payment, form)

    form = RefundForm(request.POST, payment=payment)
    if refund_rate_limited(staff=request.user, form=form):
        return _dialog_render(request, payment, form, status=429)
    if not form.is_valid():
        return _dialog_render(request, payment, form, status=422)
    data = form.cleaned_data
    try:
        refund = refund_execute(
            payment=payment,
            type=data["type"],
            amount=data["amount"],
            reason=data["reason"],
            note=data["note"],
            actor=request.user,
            idempotency_key=data["idempotency_key"],
            credits_to_remove=data["credits_to_remove"],
            notify_customer=data["notify_customer"],
            expected_reserved=data["expected_reserved"],
        )
    except RefundStale as stale:
        # Show the numbers as they are now; the next submit is judged against them.
        form.add_error(None, str(stale))
        form.rebase(expected_reserved=stale.reserved)
        return _dialog_render(request, payment, form, status=409)
    except RefundRefused as refusal:
        form.add_error(refusal.field if refusal.field in form.fields else None, str(refusal))
        return _dialog_render(request, payment, form, status=422)
    except RefundUnrecorded as unrecorded:
        # Rendered from what is in memory: the database is not there to ask.
        context = {"customer": payment.user, "payment": payment, "unrecorded": unrecorded, "nav": "users"}
        template_name = "refunds/refund_unrecorded.html" if request.htmx else "refunds/refund_unrecorded_page.html"
        return render(request, template_name, context, status=503)
    return _result_render(request, payment, refund)


@require_GET
@staff_required
def refund_list_view(request: HtmxHttpRequest, pk: int, payment_pk: int) -> HttpResponse:
    payment = payment_get_for_staff(staff=request.user, user_pk=pk, payment_pk=payment_pk)
    context = {
        "customer": payment.user,
        "payment": payment,
        "refunds": refund_list(payment=payment),
        "dispute": payment_dispute(payment=payment),
        "nav": "users",
    }
    template_name = "refunds/refund_list.html" if request.htmx else "refunds/refund_list_page.html"
    return render(request, template_name, context)


@require_GET
@staff_required
def approvals(request: HtmxHttpRequest) -> HttpResponse:
    if not request.user.has_perm("refunds.approve_refund"):
        raise PermissionDenied("You do not have permission to approve refunds.")
    can_approve_credit_changes = request.user.has_perm("payments.approve_credit_change")
    context = {
        "refunds": refunds_awaiting_approval(),
        "can_approve_credit_changes": can_approve_credit_changes,
        "credit_changes": credit_changes_awaiting_approval() if can_approve_credit_changes else [],
        "nav": "approvals",
    }
    return render(request, "refunds/approvals.html", context)


def _refund_for_decision(*, staff: User, refund_pk: int) -> Refund:
    if not staff.has_perm("refunds.approve_refund"):
        raise PermissionDenied("You do not have permission to approve refunds.")
    return get_object_or_404(Refund.objects.select_related("payment__user", "requested_by"), pk=refund_pk)


def _decision_render(request: HtmxHttpRequest, refund: Refund, error: str = "") -> HttpResponse:
    """The refund's row on the Approvals page, decided or with the reason it was not; without
    JavaScript, back to the Approvals page."""
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("approvals")
    context = {"refund": refund, "error": error}
    return render(request, "refunds/approvals.html#approval-row", context, status=422 if error else 200)


@require_POST
@staff_required
def refund_approve_view(request: HtmxHttpRequest, refund_pk: int) -> HttpResponse:
    refund = _refund_for_decision(staff=request.user, refund_pk=refund_pk)
    try:
        refund = refund_approve(refund=refund, approver=request.user)
    except RefundRefused as refusal:
        refund.refresh_from_db()  # show where it stands now (approved or rejected by someone else)
        return _decision_render(request, refund, error=str(refusal))
    return _decision_render(request, refund)


@require_POST
@staff_required
def refund_reject_view(request: HtmxHttpRequest, refund_pk: int) -> HttpResponse:
    refund = _refund_for_decision(staff=request.user, refund_pk=refund_pk)
    form = RefundDecisionForm(request.POST)
    if not form.is_valid():
        return _decision_render(request, refund, error=" ".join(form.errors["reason"]))
    try:
        refund = refund_reject(refund=refund, approver=request.user, reason=form.cleaned_data["reason"])
    except RefundRefused as refusal:
        refund.refresh_from_db()  # show where it stands now (approved or rejected by someone else)
        return _decision_render(request, refund, error=str(refusal))
    return _decision_render(request, refund)
