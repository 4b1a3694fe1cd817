"""Reconciliation: refunds left unsettled are asked about again until they settle.

A refund stays pending when the gateway gave no answer, when a worker died between the phases,
or while the bank is still processing it. Each is claimed with its advisory lock (`REFUND_LOCKS`,
not waited for: one held elsewhere is skipped), then asked about outside any transaction, and the
answer recorded by `settle.refund_record_answer` under the rows' locks (payment → refund → user).
Run again, it changes nothing that the gateway has not changed meanwhile.

With the gateway's refund id, the refund is looked up. Without one (the answer to the create call
never reached us: a timeout, a 500, a worker that died), in this order:

1. **Found by listing.** The payment's refunds at the gateway are listed, and the one whose
   metadata carries this refund's portal id is adopted (its id and status recorded). This settles
   a refund whose create call Stripe answered with a 500 after making it: Stripe replays that 500
   to every request with the same key for a day, so sending the key again would never tell.
2. **Sent again, while the key is young.** None listed, and the key was first used less than
   `RECONCILE_RESEND_WITHIN` (23 h) ago: the create call is sent again with the same key and
   parameters. Stripe replays its first answer, or makes the refund now if the first request never
   reached it. Inside Stripe's 24-hour window a resend can never make a second refund.
3. **Waiting, at the end of the window** (23 h to 24 h): none listed, and a resend could reach Stripe
   after it forgot the key. Nothing is sent; the next run looks again.
4. **Released, after the window.** None listed, and the key is more than 24 hours old: every
   request the portal sent with it was sent before the 23rd hour and finished long ago, and none
   made a refund (one would carry our portal id, and be listed). The refund is marked failed, the
   amount reserved for it released, with a reason that says nothing was refunded at the gateway.

Why released, not sent again with a new key: a new key would be a new instruction to move money,
a day or more after the staff member decided, that no person looked at again: the payment may
have been refunded another way or disputed since, and a day-old approval would be spent on it.
It would also need the new key stored before it is sent (a crash after sending and before storing
would otherwise lead to a third key, and a second refund), and the portal's key on a refund is its
form's key, the guard against a double submit, which must not change. Releasing moves no money and
keeps the books true (a failed refund has no ledger entry; the customer was told nothing, since
messages go out on success only); the staff member sees why on the payment, and asks again with a
new form, under today's limits and approvals. If a refund of ours did exist at Stripe after all
(its metadata edited by hand in the Dashboard), its webhook or the drift report records it.
"""

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from payments.gateway import (
    Gateway,
    GatewayDeclined,
    GatewayRefund,
    GatewayRefundListed,
    GatewayUnavailable,
    gateway_for,
)
from refunds.models import Refund
from refunds.services.locks import REFUND_LOCKS, advisory_lock
from refunds.services.request import gateway_ask
from refunds.services.settle import refund_record_answer

logger = logging.getLogger(__name__)

# Stripe keeps an idempotency key's first answer for at least 24 hours (its API reference,
# "Idempotent requests"), measured from the key's first use.
IDEMPOTENCY_KEY_WINDOW = timedelta(hours=24)
# The create call is sent again with the same key only this long after its first use: a resend
# that reached Stripe after it forgot the key would be a new request.
RECONCILE_RESEND_WITHIN = timedelta(hours=23)

RELEASED_REASON = (
    "Nothing was refunded: the gateway never answered the request, and a day later it still has no refund of it. "
    "The amount is refundable again; ask for the refund again if it is still owed."
)


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

    With a gateway refund id, the refund is looked up; without one, it is looked for among the
    payment's refunds at the gateway, then sent again with the same key while the key is young,
    or released once the key's window has passed with no refund of it at the gateway (see the
    module's docstring). The refund is claimed with its advisory lock first: one held elsewhere
    (the request still at the gateway, another worker) is skipped.
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
        else:
            answer, note = _refund_unanswered(refund)
        if answer is None:
            return RefundReconciled(refund.pk, before, before, note)
        refund = refund_record_answer(refund=refund, answer=answer, by="Reconciliation")
        if refund.status == Refund.Status.FAILED and refund.failure_reason:
            note = refund.failure_reason
        return RefundReconciled(refund.pk, before, refund.status, note)


def _refund_unanswered(refund: Refund) -> tuple[GatewayRefund | None, str]:
    """The gateway's answer about a refund whose create call was never answered, and a note."""
    gateway = gateway_for(refund.payment.gateway)
    # Measured from when the key was first used: approval, for a refund that waited for it.
    key_age = timezone.now() - (refund.decided_at or refund.created_at)
    try:
        found = refund_found_at_gateway(gateway=gateway, refund=refund)
    except GatewayUnavailable as error:
        logger.warning(
            "refund %s: the gateway did not list the payment's refunds (%s); still pending", refund.pk, error
        )
        return None, "no answer from the gateway"
    if found is not None:
        if found.amount != refund.amount:
            logger.error(
                "refund %s: the gateway's refund %s carries its id but not its amount (%s, not %s); needs a person",
                refund.pk,
                found.id,
                found.amount,
                refund.amount,
            )
            return None, f"the gateway's refund {found.id} names it with another amount; check at the gateway"
        logger.info("refund %s: found at the gateway as %s (%s)", refund.pk, found.id, found.status)
        return found.answer, "found at the gateway"
    if key_age < RECONCILE_RESEND_WITHIN:
        answer = gateway_ask(refund)
        return answer, "" if answer is not None else "no answer from the gateway"
    if key_age < IDEMPOTENCY_KEY_WINDOW:
        return None, "not at the gateway; not sent again this close to the end of its key's 24 hours"
    logger.warning("refund %s: no refund of it at the gateway %s after its key was used; released", refund.pk, key_age)
    return GatewayRefund(id="", status="failed", failure_reason=RELEASED_REASON), "released: never made at the gateway"


def refund_found_at_gateway(*, gateway: Gateway, refund: Refund) -> GatewayRefundListed | None:
    """The gateway's refund of the payment that carries this refund's portal id, or None.

    The whole list is read (a payment has few refunds): a refund of ours made twice is logged for
    a person, and the newest adopted. `GatewayUnavailable` when the list could not be read whole.
    """
    ours = [
        listed
        for listed in gateway.refunds_list(payment_gateway_id=refund.payment.gateway_id)
        if listed.portal_refund_id == refund.pk
    ]
    if len(ours) > 1:
        logger.error("refund %s: the gateway holds %s refunds carrying its id: %s", refund.pk, len(ours), ours)
    return ours[0] if ours else None


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
