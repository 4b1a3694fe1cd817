"""Stripe's Refunds API, through the official SDK: the portal's refund requests in Stripe's terms,
and Stripe's answers (and failure codes), and its list of refunds, in the portal's.
"""

import logging
import math
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import stripe

from core.currencies import stripe_amount_problem
from core.metrics import external_call
from payments.gateway.base import GatewayDeclined, GatewayRefund, GatewayRefundListed, GatewayUnavailable

logger = logging.getLogger(__name__)

# The API version this boundary was written for, sent with every request (`Stripe-Version`), so an
# account whose default version is older or newer than ours answers in the shapes read here. It
# is the version the installed SDK was generated for (stripe-python 16.1.0: `stripe.api_version`),
# and at least 2024-10-28, the first for which Stripe sends `refund.*` events for charge refunds
# (refunds made in the Dashboard, late failures). Upgrading the SDK means reading Stripe's
# changelog up to its version and moving this pin with it (a test compares the two).
STRIPE_API_VERSION = "2026-10-28.endive"


# Stripe's failure codes, in words for the staff member who pressed the button: a refund's
# `failure_reason`, and the `code` of an error that refused to create one.
STRIPE_FAILURE_REASONS = {
    "charge_already_refunded": "The payment has already been fully refunded at Stripe.",
    "charge_disputed": "The customer's bank disputes the payment; it cannot be refunded while the dispute is open.",
    "charge_for_pending_refund_disputed": "The customer's bank opened a dispute on the payment, so Stripe canceled "
    "the refund.",
    "expired_or_canceled_card": "The customer's card has expired or was canceled, so the bank returned the refund.",
    "lost_or_stolen_card": "The customer's card was reported lost or stolen, so the bank returned the refund.",
    "declined": "The customer's bank declined the refund.",
    "card_declined": "The customer's bank declined the refund.",
    "expired_card": "The customer's card has expired, so the refund cannot go back to it.",
    "insufficient_funds": "The Stripe balance is too low to pay out this refund.",
    "balance_insufficient": "The Stripe balance is too low to pay out this refund.",
    "amount_too_large": "The refund is larger than what remains on the payment at Stripe.",
    "resource_missing": "Stripe does not know this payment.",
    "merchant_request": "The refund was canceled at Stripe.",
    "unknown": "The bank could not process the refund.",
}


# The reasons Stripe accepts when a refund is created (API reference, "Create a refund": `reason`);
# any other value is refused with a 400.
STRIPE_ACCEPTED_REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})

# Our reasons (`refunds.Refund.Reason` values) in Stripe's words. A reason of ours that is not
# listed (`other`) is not sent as Stripe's `reason`: it travels only in metadata, as
# `portal_reason`. A reason listed must map to one Stripe accepts: the sandbox refuses any other,
# so a new one cannot first fail at Stripe.
STRIPE_REFUND_REASONS: dict[str, str] = {
    "requested_by_customer": "requested_by_customer",
    "duplicate": "duplicate",
    "fraudulent": "fraudulent",
}


def stripe_refund_reason(reason: str) -> str | None:
    """Stripe's reason for one of ours, or None when ours travels only in metadata."""
    return STRIPE_REFUND_REASONS.get(reason)


def portal_refund_reason(stripe_reason: str) -> str:
    """Our reason for one of Stripe's (the first of ours listed for it), or "" when none of ours is
    (Stripe's own `expired_uncaptured_charge`, say)."""
    return next((ours for ours, theirs in STRIPE_REFUND_REASONS.items() if theirs == stripe_reason), "")


def stripe_amount_check(*, amount: int, currency: str) -> None:
    """Refuse, before anything is sent, an amount Stripe would refuse in its currency (a fraction of
    an ISK, a third decimal of KWD that is not 0, docs.stripe.com/currencies): `GatewayDeclined`,
    a definite no in words, since nothing reached Stripe."""
    if problem := stripe_amount_problem(amount, currency):
        raise GatewayDeclined(problem)


def _stripe_reason(code: str | None, fallback: str = "") -> str:
    return STRIPE_FAILURE_REASONS.get(code or "", fallback or STRIPE_FAILURE_REASONS["unknown"])


def stripe_refund_answer(refund: Mapping[str, Any]) -> GatewayRefund:
    """A Stripe Refund object (an API answer, or the `data.object` of a webhook event) as our answer."""
    status = refund.get("status") or "pending"
    failed = status in ("failed", "canceled")
    return GatewayRefund(
        id=refund["id"],
        status=status,
        failure_reason=_stripe_reason(refund.get("failure_reason")) if failed else "",
    )


# Stripe's ids (evt_…, re_…, ch_…, pi_…). Anything else in their place is not from Stripe's API,
# whatever signed it, and is never stored: PostgreSQL refuses a NUL in text, so an unchecked one
# would be a 500 on every retry of a webhook's delivery.
STRIPE_ID = re.compile(r"^[A-Za-z0-9_]{1,255}$")


def stripe_object_id(value: Any) -> str:
    """An id field of a Stripe object, which may be expanded into its object; "" when there is
    none, or when it is not shaped like Stripe's ids."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return value if isinstance(value, str) and STRIPE_ID.match(value) else ""


def whole_number(text: str) -> int | None:
    """A metadata value that must be a whole number (Stripe keeps metadata as strings), or None."""
    return int(text) if text.isascii() and text.isdigit() else None


def stripe_refund_listed(refund: Mapping[str, Any]) -> GatewayRefundListed:
    """A Stripe Refund object, as Stripe lists it, in the portal's words."""
    answer = stripe_refund_answer(refund)
    amount = refund.get("amount")
    metadata = refund.get("metadata")
    metadata = metadata if isinstance(metadata, Mapping) else {}
    payment_ids = (stripe_object_id(refund.get("payment_intent")), stripe_object_id(refund.get("charge")))
    created = refund.get("created")
    return GatewayRefundListed(
        id=answer.id,
        status=answer.status,
        failure_reason=answer.failure_reason,
        amount=amount if isinstance(amount, int) and amount > 0 else 0,
        currency=str(refund.get("currency") or "").upper(),
        payment_gateway_ids=tuple(i for i in payment_ids if i),
        portal_refund_id=whole_number(str(metadata.get("portal_refund_id", ""))),
        reason=portal_refund_reason(str(refund.get("reason") or "")),
        created_at=datetime.fromtimestamp(created if isinstance(created, int) else 0, tz=UTC),
    )


def _stripe_declined(error: stripe.StripeError) -> GatewayDeclined:
    # Stripe's own message is written for the API user; ours first when we know the code.
    message = error.user_message or ""
    fallback = f"Stripe refused the refund: {message}" if message else ""
    return GatewayDeclined(_stripe_reason(error.code, fallback))


def _stripe_unavailable(error: stripe.StripeError) -> GatewayUnavailable:
    status = f" (HTTP {error.http_status})" if error.http_status else ""
    return GatewayUnavailable(f"{type(error).__name__}{status}: {error.user_message or 'no answer'}")


def _payment_field(payment_gateway_id: str) -> str:
    """The parameter that names a payment at Stripe: a charge (`ch_…`) or a payment intent."""
    return "charge" if payment_gateway_id.startswith("ch_") else "payment_intent"


class StripeGateway:
    """Stripe's Refunds API through the official SDK.

    What each failure means for the refund:
    - card errors (402) and invalid requests (400/404: already refunded, amount too large, unknown
      payment) are a definite no: nothing was refunded, `GatewayDeclined` with a reason staff can read;
    - timeouts, connection errors, 409, 429 and 5xx are no answer: Stripe may or may not have made
      the refund, `GatewayUnavailable`, and the same idempotency key is sent again later;
    - an idempotency error (the key was used with other parameters) and a refused API key (401/403)
      are no answer either: failing the refund could release money Stripe did refund, so it stays
      pending and the log says why.
    """

    name = "stripe"

    def __init__(self, *, api_key: str, api_base: str | None = None, timeout: float = 20, max_retries: int = 2):
        self.client = stripe.StripeClient(
            api_key,
            stripe_version=STRIPE_API_VERSION,
            base_addresses={"api": api_base} if api_base else None,
            # (connect, read): an unreachable Stripe is known quickly; a slow answer gets the full time.
            http_client=stripe.RequestsClient(timeout=(min(timeout, 5.0), timeout)),
            # The SDK retries timeouts, connection errors, 409 and 5xx (not 429) with backoff, sending
            # the same Idempotency-Key, so a retry is a replay at Stripe, never a second refund.
            max_network_retries=max_retries,
        )

    @external_call("stripe", "refund_create")
    def refund(
        self,
        *,
        payment_gateway_id: str,
        amount: int,
        currency: str,
        reason: str,
        idempotency_key: str,
        portal_refund_id: int,
        portal_staff_id: int | None,
        portal_request_id: str = "",
    ) -> GatewayRefund:
        stripe_amount_check(amount=amount, currency=currency)
        target = _payment_field(payment_gateway_id)
        # Kept with the refund at Stripe, so that its webhook events can name our refund before
        # the answer to this call (and the refund's id) has reached us.
        metadata = {"portal_refund_id": str(portal_refund_id), "portal_staff_id": str(portal_staff_id or "")}
        if portal_request_id:  # absent, not empty, for refunds asked before it was kept: their first call had none
            metadata["portal_request_id"] = portal_request_id
        params: dict[str, Any] = {target: payment_gateway_id, "amount": amount}
        if (stripe_reason := stripe_refund_reason(reason)) is not None:
            params["reason"] = stripe_reason
        else:  # Stripe knows three reasons; ours beside them ("other") travel in metadata
            metadata["portal_reason"] = reason
        params["metadata"] = metadata
        if not idempotency_key:
            raise ValueError("A Stripe refund needs an idempotency key: without one, a retry could refund twice.")
        try:
            refund = self.client.v1.refunds.create(params=params, options={"idempotency_key": idempotency_key})
        except (stripe.CardError, stripe.InvalidRequestError) as error:
            raise _stripe_declined(error) from error
        except stripe.IdempotencyError as error:
            logger.error("Stripe refused idempotency key %s as used with other parameters: %s", idempotency_key, error)
            raise _stripe_unavailable(error) from error
        except stripe.StripeError as error:
            raise _stripe_unavailable(error) from error
        return stripe_refund_answer(refund.to_dict())

    @external_call("stripe", "refund_retrieve")
    def retrieve_refund(self, *, refund_id: str) -> GatewayRefund:
        try:
            refund = self.client.v1.refunds.retrieve(refund_id)
        except stripe.StripeError as error:
            # Even a 404 is no answer: the id came from Stripe, so the refund's fate is still unknown.
            raise _stripe_unavailable(error) from error
        return stripe_refund_answer(refund.to_dict())

    def refunds_list(
        self, *, since: datetime | None = None, until: datetime | None = None, payment_gateway_id: str = ""
    ) -> Iterator[GatewayRefundListed]:
        """Every refund made at Stripe in [since, until) (either end open when not given), of one
        payment when `payment_gateway_id` is given, newest first, 100 to a page (Stripe's most),
        the next page asked for as the caller reaches it (the SDK's auto-pagination)."""
        params: dict[str, Any] = {"limit": 100}
        # Stripe filters on whole seconds: the window rounded outwards, never losing an edge refund.
        created = {}
        if since is not None:
            created["gte"] = math.floor(since.timestamp())
        if until is not None:
            created["lt"] = math.ceil(until.timestamp())
        if created:
            params["created"] = created
        if payment_gateway_id:
            params[_payment_field(payment_gateway_id)] = payment_gateway_id
        try:
            page = self.client.v1.refunds.list(params=params)
            for refund in page.auto_paging_iter():
                yield stripe_refund_listed(refund.to_dict())
        except stripe.StripeError as error:
            # Any failure, at any page, leaves the list incomplete: no answer, not "no refunds".
            raise _stripe_unavailable(error) from error
