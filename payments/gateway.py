"""The payment gateway boundary: the only module that talks to Stripe (or pretends to).

Both implementations answer the same three ways, and the refund service acts on which:
- a `GatewayRefund` with a status (`succeeded`, `pending`, `requires_action`, `failed`, `canceled`);
- `GatewayDeclined`: a definite no (already refunded, card error, invalid request);
- `GatewayUnavailable`: no answer (timeout, connection error, 5xx, rate limit): the refund may or
  may not exist at the gateway, so it stays pending and is asked about again with the same key.
"""

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import stripe
from django.conf import settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GatewayRefund:
    id: str
    status: str
    failure_reason: str = ""


class GatewayDeclined(Exception):
    """The gateway refused the refund; `str()` is a reason a staff member understands."""


class GatewayUnavailable(Exception):
    """The gateway did not answer; nobody knows yet whether the refund happened."""


class Gateway(Protocol):
    name: str

    def refund(
        self, *, payment_gateway_id: str, amount: int, currency: str, reason: str, idempotency_key: str, metadata: dict
    ) -> GatewayRefund:
        """Create a refund, or replay the answer to an earlier request with the same key."""
        ...

    def retrieve_refund(self, *, refund_id: str) -> GatewayRefund:
        """The refund's current state at the gateway."""
        ...


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


def _stripe_declined(error: stripe.StripeError) -> GatewayDeclined:
    # Stripe's own message is written for the API user; ours first when we know the code.
    message = error.user_message or ""
    fallback = f"Stripe refused the refund: {message}" if message else ""
    return GatewayDeclined(_stripe_reason(error.code, fallback))


def _stripe_unavailable(error: stripe.StripeError) -> GatewayUnavailable:
    status = f" (HTTP {error.http_status})" if error.http_status else ""
    return GatewayUnavailable(f"{type(error).__name__}{status}: {error.user_message or 'no answer'}")


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
            base_addresses={"api": api_base} if api_base else None,
            # (connect, read): an unreachable Stripe is known quickly; a slow answer gets the full time.
            http_client=stripe.RequestsClient(timeout=(min(timeout, 5.0), timeout)),
            # The SDK retries timeouts, connection errors, 409 and 5xx (not 429) with backoff, sending
            # the same Idempotency-Key, so a retry is a replay at Stripe, never a second refund.
            max_network_retries=max_retries,
        )

    def refund(
        self, *, payment_gateway_id: str, amount: int, currency: str, reason: str, idempotency_key: str, metadata: dict
    ) -> GatewayRefund:
        target = "charge" if payment_gateway_id.startswith("ch_") else "payment_intent"
        metadata = dict(metadata)
        params: dict[str, Any] = {target: payment_gateway_id, "amount": amount}
        if reason == "other":  # Stripe knows three reasons; "other" is ours and travels in metadata
            metadata["portal_reason"] = reason
        else:
            params["reason"] = reason
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

    def retrieve_refund(self, *, refund_id: str) -> GatewayRefund:
        try:
            refund = self.client.v1.refunds.retrieve(refund_id)
        except stripe.StripeError as error:
            # Even a 404 is no answer: the id came from Stripe, so the refund's fate is still unknown.
            raise _stripe_unavailable(error) from error
        return stripe_refund_answer(refund.to_dict())


class GatewayWebhookRefused(Exception):
    """A webhook call that is not provably from Stripe, or not recent: nothing in it may be acted on."""


def webhook_event(payload: bytes, signature: str) -> dict:
    """The event in a Stripe webhook call, once its signature is checked with STRIPE_WEBHOOK_SECRET.

    Refused (`GatewayWebhookRefused`): no secret configured, a missing or wrong signature, a
    timestamp older than Stripe's tolerance (a replayed capture), a body that is not an event.
    """
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise GatewayWebhookRefused("STRIPE_WEBHOOK_SECRET is not set, so no Stripe webhook can be verified.")
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance=stripe.Webhook.DEFAULT_TOLERANCE)
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError) as error:  # ValueError: bad UTF-8 or JSON
        raise GatewayWebhookRefused(str(error)) from error
    data = event.get("data") if isinstance(event, dict) else None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("object"), dict)
        and event.get("object") == "event"
        and isinstance(event.get("id"), str)
        and isinstance(event.get("type"), str)
    ):
        raise GatewayWebhookRefused("The body is not a Stripe event.")
    return event


class SandboxGateway:
    """In-process stand-in for Stripe, used when no Stripe key is configured.

    Like Stripe, it keys every answer to the idempotency key (the refund id is derived from it),
    so a retry is a replay, never a second refund. A payment's gateway id picks its behaviour,
    as Stripe's test cards do, so every branch of the flow can be shown in the browser:
    `pi_sandbox_decline_…` declines, `pi_sandbox_pending_…` answers pending then settles,
    `pi_sandbox_faillater_…` answers pending then fails, `pi_sandbox_timeout_…` does not
    answer the first time; anything else succeeds.
    """

    name = "sandbox"

    @staticmethod
    def _scenario(gateway_id: str) -> str:
        for scenario in ("decline", "pending", "faillater", "timeout"):
            if gateway_id.startswith(f"pi_sandbox_{scenario}_"):
                return scenario
        return "succeed"

    @staticmethod
    def _refund_id(idempotency_key: str, scenario: str) -> str:
        digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:20]
        return f"re_sandbox_{scenario}_{digest}"

    def __init__(self) -> None:
        self._seen_keys: set[str] = set()

    def refund(
        self, *, payment_gateway_id: str, amount: int, currency: str, reason: str, idempotency_key: str, metadata: dict
    ) -> GatewayRefund:
        scenario = self._scenario(payment_gateway_id)
        refund_id = self._refund_id(idempotency_key, scenario)
        first_time = idempotency_key not in self._seen_keys
        self._seen_keys.add(idempotency_key)
        if scenario == "decline":
            raise GatewayDeclined(STRIPE_FAILURE_REASONS["declined"])
        if scenario == "timeout" and first_time:
            raise GatewayUnavailable("sandbox: no answer this time")
        if scenario in ("pending", "faillater") and first_time:
            return GatewayRefund(id=refund_id, status="pending")
        return self.retrieve_refund(refund_id=refund_id)

    def retrieve_refund(self, *, refund_id: str) -> GatewayRefund:
        if refund_id.startswith("re_sandbox_faillater_"):
            return GatewayRefund(id=refund_id, status="failed", failure_reason=STRIPE_FAILURE_REASONS["declined"])
        return GatewayRefund(id=refund_id, status="succeeded")


_sandbox = SandboxGateway()


def gateway_for(name: str) -> Gateway:
    """The gateway a payment was made through."""
    if name == "stripe":
        if not settings.STRIPE_SECRET_KEY:
            raise GatewayUnavailable("Stripe is not configured (STRIPE_SECRET_KEY is unset).")
        return StripeGateway(
            api_key=settings.STRIPE_SECRET_KEY,
            api_base=settings.STRIPE_API_BASE or None,
            timeout=settings.STRIPE_TIMEOUT_SECONDS,
            max_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
        )
    return _sandbox
