import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from core.access import staff_required
from core.htmx import HtmxHttpRequest
from core.money import money_to_decimal_text
from payments.models import Payment
from refunds.access import payment_get_for_staff, refund_permission_check
from refunds.forms import RefundDecisionForm, RefundForm
from refunds.limits import refund_rate_limited
from refunds.models import Refund
from refunds.selectors import refund_list, refunds_awaiting_approval
from refunds.services import (
    RefundRefused,
    credits_for_amount,
    payment_refundable,
    refund_approve,
    refund_execute,
    refund_reject,
)


def _dialog_context(payment: Payment, form: RefundForm) -> dict:
    refundable = payment_refundable(payment=payment)
    return {
        "customer": payment.user,
        "payment": payment,
        "refundable": refundable,
        "refunds": refund_list(payment=payment),
        "form": form,
    }


def _dialog_render(request: HtmxHttpRequest, payment: Payment, form: RefundForm, status: int = 200) -> HttpResponse:
    context = _dialog_context(payment, form)
    if not request.htmx:
        return render(request, "refunds/refund_page.html", context | {"nav": "users"}, status=status)
    if request.method == "POST":
        return render(request, "refunds/refund_dialog.html#refund-panel", context, status=status)
    return render(request, "refunds/refund_dialog.html", context, status=status)


@require_http_methods(["GET", "POST"])
@staff_required
def refund_create(request: HtmxHttpRequest, pk: int, payment_pk: int) -> HttpResponse:
    payment = payment_get_for_staff(staff=request.user, user_pk=pk, payment_pk=payment_pk)
    refund_permission_check(staff=request.user)

    if request.method == "GET":
        refundable = payment_refundable(payment=payment)
        suggested_credits = min(credits_for_amount(payment=payment, amount=refundable.amount), payment.user.credits)
        form = RefundForm(
            payment=payment,
            initial={
                "type": Refund.Type.FULL,
                "amount": money_to_decimal_text(max(refundable.amount, 0), payment.currency),
                "credits_to_remove": suggested_credits,
                "notify_customer": True,
                # One key per opened form: a double click, a retry or a second tab re-sending this
                # form is the same refund, never another.
                "idempotency_key": uuid.uuid4().hex,
                "expected_reserved": refundable.reserved,
            },
        )
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
    except RefundRefused as refusal:
        status = 422
        if refusal.field == "stale":
            # Show the numbers as they are now; the next submit is judged against them.
            form.data = form.data.copy()
            form.data["expected_reserved"] = str(payment_refundable(payment=payment).reserved)
            status = 409
        form.add_error(refusal.field if refusal.field in form.fields else None, str(refusal))
        return _dialog_render(request, payment, form, status=status)

    payment.refresh_from_db()
    payment.user.refresh_from_db()
    context = {
        "customer": payment.user,
        "payment": payment,
        "refund": refund,
        "refundable": payment_refundable(payment=payment),
        "refunds": refund_list(payment=payment),
    }
    template_name = "refunds/refund_result.html" if request.htmx else "refunds/refund_result_page.html"
    response = render(request, template_name, context | {"nav": "users"})
    if refund.status != Refund.Status.FAILED:
        trigger_client_event(response, "refund-executed")
    return response


@require_GET
@staff_required
def refund_list_view(request: HtmxHttpRequest, pk: int, payment_pk: int) -> HttpResponse:
    payment = payment_get_for_staff(staff=request.user, user_pk=pk, payment_pk=payment_pk)
    context = {"customer": payment.user, "payment": payment, "refunds": refund_list(payment=payment), "nav": "users"}
    template_name = "refunds/refund_list.html" if request.htmx else "refunds/refund_list_page.html"
    return render(request, template_name, context)


@require_GET
@staff_required
def approvals(request: HtmxHttpRequest) -> HttpResponse:
    if not request.user.has_perm("refunds.approve_refund"):
        raise PermissionDenied("You do not have permission to approve refunds.")
    context = {"refunds": refunds_awaiting_approval(), "nav": "approvals"}
    return render(request, "refunds/approvals.html", context)


@require_POST
@staff_required
def refund_decide(request: HtmxHttpRequest, refund_pk: int, decision: str) -> HttpResponse:
    if not request.user.has_perm("refunds.approve_refund"):
        raise PermissionDenied("You do not have permission to approve refunds.")
    refund = get_object_or_404(Refund.objects.select_related("payment__user", "requested_by"), pk=refund_pk)
    form = RefundDecisionForm(request.POST)
    error = ""
    if not form.is_valid():
        error = " ".join(form.errors.get("reason", ["Say why the refund is rejected."]))
    else:
        try:
            if decision == "approve":
                refund = refund_approve(refund=refund, approver=request.user)
            else:
                refund = refund_reject(refund=refund, approver=request.user, reason=form.cleaned_data["reason"])
        except RefundRefused as refusal:
            error = str(refusal)
            refund.refresh_from_db()
    if not request.htmx:
        if error:
            messages.error(request, error)
        return redirect("approvals")
    context = {"refund": refund, "error": error}
    response = render(request, "refunds/approvals.html#approval-row", context, status=422 if error else 200)
    return response
