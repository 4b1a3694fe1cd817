"""The sandbox gateway: an in-process stand-in for Stripe, for local runs and demos."""

import hashlib
from collections.abc import Iterator
from datetime import datetime

from django.db.models.functions import Coalesce

from core.metrics import external_call
from payments.gateway.base import GatewayDeclined, GatewayRefund, GatewayRefundListed, GatewayUnavailable
from payments.gateway.stripe_api import (
    STRIPE_ACCEPTED_REFUND_REASONS,
    STRIPE_FAILURE_REASONS,
    STRIPE_REFUND_REASONS,
    stripe_refund_reason,
)
from payments.models import Payment


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

    @external_call("sandbox", "refund_create")
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

    def refunds_list(self, *, since: datetime, until: datetime) -> Iterator[GatewayRefundListed]:
        """The refunds the sandbox made in [since, until), newest first.

        It keeps nothing between processes, so its list is derived from what it answered: the
        portal's refunds that carry one of its `re_sandbox_…` ids, each in the status it answers
        now (`retrieve_refund`), for the amount the portal asked. Its list therefore agrees with
        the portal's records, unless someone changed them by hand, which is what a drift report
        on the sandbox is for. Made when the portal first asked: on approval, for a refund that
        waited for one.
        """
        # Payments do not import refunds: their refunds are reached through the reverse relation.
        refunds = Payment._meta.get_field("refunds").related_model._default_manager
        rows = (
            refunds.filter(payment__gateway=self.name, gateway_refund_id__startswith="re_sandbox_")
            .annotate(asked_at=Coalesce("decided_at", "created_at"))
            .filter(asked_at__gte=since, asked_at__lt=until)
            .order_by("-asked_at", "-pk")
            .values_list("pk", "gateway_refund_id", "amount", "currency", "reason", "payment__gateway_id", "asked_at")
        )
        for pk, refund_id, amount, currency, reason, payment_gateway_id, asked_at in rows.iterator():
            answer = self.retrieve_refund(refund_id=refund_id)
            yield GatewayRefundListed(
                id=refund_id,
                status=answer.status,
                failure_reason=answer.failure_reason,
                amount=amount,
                currency=currency,
                payment_gateway_ids=(payment_gateway_id,),
                portal_refund_id=pk,
                reason=reason if reason in STRIPE_REFUND_REASONS else "",
                created_at=asked_at,
            )
