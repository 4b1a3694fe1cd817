"""The sandbox gateway: an in-process stand-in for Stripe, for local runs and demos."""

import hashlib

from payments.gateway.base import GatewayDeclined, GatewayRefund, GatewayUnavailable
from payments.gateway.stripe_api import STRIPE_ACCEPTED_REFUND_REASONS, STRIPE_FAILURE_REASONS, stripe_refund_reason


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
        self,
        *,
        payment_gateway_id: str,
        amount: int,
        currency: str,
        reason: str,
        idempotency_key: str,
        portal_refund_id: int,
        portal_staff_id: int | None,
    ) -> GatewayRefund:
        # As strict as Stripe where a new reason could break: one it would refuse is refused here
        # first, in development and in the tests, rather than in production.
        stripe_reason = stripe_refund_reason(reason)
        if stripe_reason is not None and stripe_reason not in STRIPE_ACCEPTED_REFUND_REASONS:
            raise ValueError(f"Stripe does not accept the refund reason {stripe_reason!r} (ours: {reason!r}).")
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
