"""The search bar's jump to a payment by its gateway id (registered in accounts.lookup)."""

import re

from django.urls import reverse

from accounts.lookup import Jump
from payments.models import Payment

# Stripe's PaymentIntent, Charge and Payment ids (and the sandbox's, which copy them): pi_3Abc…
PAST_PAYMENTS_PAGE = 10  # payments.selectors.payment_history's page
PAYMENT_ID = re.compile(r"^(?:pi|ch|py)_[A-Za-z0-9_]{3,250}$")


def payment_highlighted_url(*, user_id: int, payment_id: int) -> str:
    """The customer's Payments tab, with this payment shown and marked: on the first page of
    Past payments if it is there, else on the page that starts with it (`before` the payment
    just newer; one step down the customer's newest-first index)."""
    query = f"payment={payment_id}"
    payment = Payment.objects.filter(pk=payment_id).values("created_at").get()
    # `created_at >= its own` is the index condition: the walk starts at the payment and goes up
    # (an OR of the two cases read a customer's 100,000 payments from the newest down: 6 ms).
    newer = (
        Payment.objects.filter(user_id=user_id, created_at__gte=payment["created_at"])
        .exclude(created_at=payment["created_at"], pk__lte=payment_id)
        .order_by("created_at", "id")
        .values_list("pk", flat=True)
    )
    newer_ids = list(newer[:PAST_PAYMENTS_PAGE])
    if len(newer_ids) == PAST_PAYMENTS_PAGE:
        query = f"before={newer_ids[0]}&{query}"
    return f"{reverse('user_payments', args=[user_id])}?{query}#payment-{payment_id}"


def payment_jump(text: str) -> Jump | None:
    if not PAYMENT_ID.match(text):
        return None
    # Every gateway named, so that the (gateway, gateway_id) unique index serves the lookup.
    payment = (
        Payment.objects.filter(gateway__in=Payment.Gateway.values, gateway_id=text).values("pk", "user_id").first()
    )
    if payment is None:
        return Jump.missing()
    return Jump(url=payment_highlighted_url(user_id=payment["user_id"], payment_id=payment["pk"]))
