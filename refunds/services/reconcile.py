"""Reconciliation: refunds left unsettled are asked about again until they settle.

A refund stays pending when the gateway gave no answer, when a worker died between the phases,
or while the bank is still processing it. Each is claimed with its advisory lock (`REFUND_LOCKS`,
not waited for: one held elsewhere is skipped), then asked about outside any transaction, and the
answer recorded by `settle.refund_record_answer` under the rows' locks (payment → refund → user).
Run again, it changes nothing that the gateway has not changed meanwhile.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from payments.gateway import GatewayDeclined, GatewayRefund, GatewayUnavailable, gateway_for
from refunds.models import Refund
from refunds.services.locks import REFUND_LOCKS, advisory_lock
from refunds.services.request import gateway_ask
from refunds.services.settle import refund_record_answer

logger = logging.getLogger(__name__)

# Stripe keeps an idempotency key's first answer for at least 24 hours. After that, sending the
# create call again could make a second refund, so an older refund with no gateway id is left
# to a person (and to the refund.* webhooks, which find it by the portal's refund id they carry).
RECONCILE_RESEND_WITHIN = timedelta(hours=23)


@dataclass(frozen=True)
class RefundReconciled:
    refund_id: int
    before: str
    after: str
    note: str = ""

    @property
    def changed(self) -> bool:
        return self.before != self.after


def refund_reconcile(*, refund: Refund) -> RefundReconciled:
    """Ask the gateway again about one unsettled refund, and record what it says.

    With a gateway refund id, the refund is looked up; without one, the create call is sent again
    with the same idempotency key and parameters, so Stripe replays its first answer, or makes
    the refund now if the first request never arrived. The refund is claimed with its advisory
    lock first: one held elsewhere (the request still at the gateway, another worker) is skipped.
    """
    if connection.in_atomic_block:
        raise RuntimeError("Reconciliation calls the gateway; it must not run inside a transaction.")
    with advisory_lock(REFUND_LOCKS, refund.pk, wait=False) as claimed:
        if not claimed:
            return RefundReconciled(refund.pk, refund.status, refund.status, "being worked on elsewhere; skipped")
        refund = Refund.objects.select_related("payment").get(pk=refund.pk)
        before = refund.status
        if before not in Refund.UNSETTLED:
            return RefundReconciled(refund.pk, before, before, "already settled")
        answer: GatewayRefund | None
        note = ""
        if refund.type == Refund.Type.CREDITS:
            answer = GatewayRefund(id="", status="succeeded")  # no gateway: finish what the request began
        elif refund.gateway_refund_id:
            try:
                answer = gateway_for(refund.payment.gateway).retrieve_refund(refund_id=refund.gateway_refund_id)
            except (GatewayUnavailable, GatewayDeclined) as error:
                logger.warning("refund %s: no answer from the gateway (%s); still %s", refund.pk, error, before)
                answer, note = None, "no answer from the gateway"
        elif (refund.decided_at or refund.created_at) < timezone.now() - RECONCILE_RESEND_WITHIN:
            # Measured from when the key was first used: approval, for a refund that waited for it.
            logger.error("refund %s: pending with no gateway id for over a day; a person must check", refund.pk)
            answer, note = None, "too old to send again safely; check at the gateway"
        else:
            answer = gateway_ask(refund)
            note = "" if answer is not None else "no answer from the gateway"
        if answer is None:
            return RefundReconciled(refund.pk, before, before, note)
        refund = refund_record_answer(refund=refund, answer=answer, by="Reconciliation")
        if refund.status == Refund.Status.FAILED and refund.failure_reason:
            note = refund.failure_reason
        return RefundReconciled(refund.pk, before, refund.status, note)


def refunds_reconcile(*, older_than: timedelta | None = None, limit: int = 500) -> list[RefundReconciled]:
    """Reconcile every refund still unsettled `older_than` (default RECONCILE_AFTER_SECONDS) after
    it was made, oldest first; younger ones are probably still in their request. Run it again
    and it changes nothing that the gateway has not changed meanwhile."""
    if older_than is None:
        older_than = timedelta(seconds=settings.RECONCILE_AFTER_SECONDS)
    unsettled = Refund.objects.filter(
        status__in=Refund.UNSETTLED, created_at__lte=timezone.now() - older_than
    ).order_by("created_at", "id")[:limit]
    if connection.in_atomic_block:
        raise RuntimeError("Reconciliation calls the gateway; it must not run inside a transaction.")
    results = []
    for refund in list(unsettled):
        try:
            results.append(refund_reconcile(refund=refund))
        except Exception:
            # One refund that cannot be settled must not stop the others, every five minutes.
            logger.exception("refund %s: reconciliation failed; the others go on", refund.pk)
            results.append(RefundReconciled(refund.pk, refund.status, refund.status, "reconciliation failed; see logs"))
    return results
