from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from accounts.access import user_get_for_staff
from core.access import staff_required
from core.htmx import HtmxHttpRequest
from privacy.forms import ErasureForm
from privacy.services import ErasureRefused, customer_erase, erasure_blockers


@require_http_methods(["GET", "POST"])
@staff_required
def customer_erase_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Erase a customer's personal data (Administrators): what it does, then type their email to confirm."""
    customer = user_get_for_staff(staff=request.user, pk=pk)
    if not request.user.has_perm("accounts.erase_user"):
        raise PermissionDenied("Only Administrators erase customers' personal data.")
    form = ErasureForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                customer_erase(customer=customer, actor=request.user, confirm_email=form.cleaned_data["confirm_email"])
            except ErasureRefused as refusal:
                form.add_error("confirm_email", str(refusal))
            else:
                messages.success(request, "Personal data erased. Payments, refunds, disputes and the ledger are kept.")
                return redirect("user_detail", pk=customer.pk)
        status = 422
    context = {"customer": customer, "form": form, "blockers": erasure_blockers(customer=customer), "nav": "users"}
    return render(request, "privacy/erase_confirm.html", context, status=status)
