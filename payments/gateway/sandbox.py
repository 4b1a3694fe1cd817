"""The sandbox gateway: a stand-in for Stripe, for local runs and demos, that keeps what it made in
the database (`payments.SandboxRefund`), so that it answers alike in every process."""

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
    stripe_amount_check,
    stripe_refund_reason,
)
from payments.models import Payment, SandboxRefund


class SandboxGateway:
    """Stand-in for Stripe, used when no Stripe key is configured.

    Like Stripe, it keys every refund to the idempotency key and keeps it (a `SandboxRefund` row,
    so a restart, the `reconcile_refunds` command or another web process finds it): a retry is a
    replay, never a second refund, and the same key with another amount or payment is refused as
    Stripe refuses it. A payment's gateway id picks its behaviour, as Stripe's test cards do, so
    every branch of the flow can be shown in the browser: `pi_sandbox_decline_…` declines,
    `pi_sandbox_pending_…` answers pending then settles, `pi_sandbox_faillater_…` answers pending
    then fails, `pi_sandbox_timeout_…` makes the refund but its first answer is lost (as a read
    timeout loses Stripe's), so reconciliation finds it by listing; anything else succeeds.
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
        portal_request_id: str = "",
    ) -> GatewayRefund:
        # As strict as Stripe where a new reason could break: one it would refuse is refused here
        # first, in development and in the tests, rather than in production.
        stripe_reason = stripe_refund_reason(reason)
        if stripe_reason is not None and stripe_reason not in STRIPE_ACCEPTED_REFUND_REASONS:
            raise ValueError(f"Stripe does not accept the refund reason {stripe_reason!r} (ours: {reason!r}).")
        if not idempotency_key:
            raise ValueError("A sandbox refund needs an idempotency key, as a Stripe one does.")
        stripe_amount_check(amount=amount, currency=currency)
        scenario = self._scenario(payment_gateway_id)
        if scenario == "decline":
            raise GatewayDeclined(STRIPE_FAILURE_REASONS["declined"])
        made, first_time = SandboxRefund.objects.get_or_create(
            idempotency_key=idempotency_key,
            defaults={
                "refund_id": self._refund_id(idempotency_key, scenario),
                "payment_gateway_id": payment_gateway_id,
                "amount": amount,
                "currency": currency.upper(),
                "reason": reason,
                "portal_refund_id": portal_refund_id,
            },
        )
        if (made.payment_gateway_id, made.amount) != (payment_gateway_id, amount):
            # Stripe's 400 idempotency_error, which the Stripe gateway also takes for no answer.
            raise GatewayUnavailable("sandbox: this idempotency key was first used with other parameters")
        if scenario == "timeout" and first_time:
            raise GatewayUnavailable("sandbox: the refund was made, but its answer was lost this time")
        if scenario in ("pending", "faillater") and first_time:
            return GatewayRefund(id=made.refund_id, status="pending")
        return self.retrieve_refund(refund_id=made.refund_id)

    def retrieve_refund(self, *, refund_id: str) -> GatewayRefund:
        if refund_id.startswith("re_sandbox_faillater_"):
            return GatewayRefund(id=refund_id, status="failed", failure_reason=STRIPE_FAILURE_REASONS["declined"])
        return GatewayRefund(id=refund_id, status="succeeded")

    def refunds_list(
        self, *, since: datetime | None = None, until: datetime | None = None, payment_gateway_id: str = ""
    ) -> Iterator[GatewayRefundListed]:
        """The refunds the sandbox made in [since, until), of one payment if given, newest first,
        each in the status it answers now (`retrieve_refund`).

        A refund whose answer the portal recorded is listed as the portal recorded it (its refund
        carrying one of the sandbox's `re_sandbox_…` ids, for the amount the portal asked, at the
        time it first asked: on approval, for a refund that waited for one), so the list agrees
        with the portal's records unless someone changed them by hand, which is what a drift report
        on the sandbox is for; this also lists refunds made before the sandbox kept its own. One
        whose answer never reached the portal (its refund has no gateway id yet) is listed from
        what the sandbox kept, naming our refund, as Stripe's metadata does.
        """
        # Payments do not import refunds: their refunds are reached through the reverse relation.
        refunds = Payment._meta.get_field("refunds").related_model._default_manager
        recorded = refunds.filter(payment__gateway=self.name, gateway_refund_id__startswith="re_sandbox_").annotate(
            asked_at=Coalesce("decided_at", "created_at")
        )
        unrecorded = SandboxRefund.objects.filter(
            portal_refund_id__in=refunds.filter(payment__gateway=self.name, gateway_refund_id="").values("pk")
        )
        if since is not None:
            recorded, unrecorded = recorded.filter(asked_at__gte=since), unrecorded.filter(created_at__gte=since)
        if until is not None:
            recorded, unrecorded = recorded.filter(asked_at__lt=until), unrecorded.filter(created_at__lt=until)
        if payment_gateway_id:
            recorded = recorded.filter(payment__gateway_id=payment_gateway_id)
            unrecorded = unrecorded.filter(payment_gateway_id=payment_gateway_id)
        rows = list(
            recorded.values_list(
                "gateway_refund_id", "pk", "amount", "currency", "reason", "payment__gateway_id", "asked_at"
            )
        )
        rows += unrecorded.values_list(
            "refund_id", "portal_refund_id", "amount", "currency", "reason", "payment_gateway_id", "created_at"
        )
        rows.sort(key=lambda row: (row[6], row[1]), reverse=True)
        for refund_id, portal_refund_id, amount, currency, reason, payment_gateway_id, made_at in rows:
            answer = self.retrieve_refund(refund_id=refund_id)
            yield GatewayRefundListed(
                id=refund_id,
                status=answer.status,
                failure_reason=answer.failure_reason,
                amount=amount,
                currency=currency,
                payment_gateway_ids=(payment_gateway_id,),
                portal_refund_id=portal_refund_id,
                reason=reason if reason in STRIPE_REFUND_REASONS else "",
                created_at=made_at,
            )
