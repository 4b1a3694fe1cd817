"""The payment gateway boundary: the only module that talks to Stripe (or pretends to).

Both implementations answer the same three ways, and the refund service acts on which:
- a `GatewayRefund` with a status (`succeeded`, `pending`, `requires_action`, `failed`, `canceled`);
- `GatewayDeclined`: a definite no (already refunded, card error, invalid request);
- `GatewayUnavailable`: no answer (timeout, connection error, 5xx, rate limit): the refund may or
  may not exist at the gateway, so it stays pending and is asked about again with the same key.
"""

import hashlib
import logging
from dataclasses import dataclass
from typing import Protocol

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


# Stripe's failure codes, in words for the staff member who pressed the button.
STRIPE_FAILURE_REASONS = {
    "charge_already_refunded": "The payment has already been fully refunded at Stripe.",
    "charge_disputed": "The customer's bank disputes the payment; it cannot be refunded while the dispute is open.",
    "expired_or_canceled_card": "The customer's card has expired or was canceled, so the bank returned the refund.",
    "lost_or_stolen_card": "The customer's card was reported lost or stolen, so the bank returned the refund.",
    "declined": "The customer's bank declined the refund.",
    "insufficient_funds": "The Stripe balance is too low to pay out this refund.",
    "amount_too_large": "The refund is larger than what remains on the payment at Stripe.",
    "merchant_request": "The refund was canceled at Stripe.",
    "unknown": "The bank could not process the refund.",
}


def _stripe_reason(code: str | None, fallback: str = "") -> str:
    return STRIPE_FAILURE_REASONS.get(code or "", fallback or STRIPE_FAILURE_REASONS["unknown"])


class StripeGateway:
    name = "stripe"

    def __init__(self, *, api_key: str, api_base: str | None = None, timeout: float = 20, max_retries: int = 2):
        # StripeClient does not retry unless told to; its retries reuse the idempotency key.
        self.client = stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base} if api_base else None,
            http_client=stripe.RequestsClient(timeout=timeout),
            max_network_retries=max_retries,
        )

    @staticmethod
    def _answer(refund: "stripe.Refund") -> GatewayRefund:
        status = refund.status or "pending"
        reason = _stripe_reason(getattr(refund, "failure_reason", None)) if status in ("failed", "canceled") else ""
        return GatewayRefund(id=refund.id, status=status, failure_reason=reason)

    def refund(
        self, *, payment_gateway_id: str, amount: int, currency: str, reason: str, idempotency_key: str, metadata: dict
    ) -> GatewayRefund:
        target = "charge" if payment_gateway_id.startswith("ch_") else "payment_intent"
        params = {target: payment_gateway_id, "amount": amount, "metadata": metadata}
        if reason != "other":  # Stripe knows three reasons; "other" is ours and travels in metadata
            params["reason"] = reason
        try:
            refund = self.client.v1.refunds.create(params=params, options={"idempotency_key": idempotency_key})
        except (stripe.CardError, stripe.InvalidRequestError, stripe.IdempotencyError) as error:
            raise GatewayDeclined(_stripe_reason(error.code, error.user_message or str(error.user_message))) from error
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as error:
            raise GatewayUnavailable(type(error).__name__) from error
        return self._answer(refund)

    def retrieve_refund(self, *, refund_id: str) -> GatewayRefund:
        try:
            refund = self.client.v1.refunds.retrieve(refund_id)
        except (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError) as error:
            raise GatewayUnavailable(type(error).__name__) from error
        return self._answer(refund)


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
