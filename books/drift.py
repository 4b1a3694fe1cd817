"""The drift report: the portal's refunds against each gateway's own list of refunds, for a window
of time (Finance's month-end reconciliation, and a nightly job over the last few days).

For each gateway the portal's payments were made through, the gateway lists the refunds it made in
the window (`Gateway.refunds_list`), and each is matched with ours as the webhooks match them: by
its id or, before we stored the id, by the portal refund id it carries, on the same payment. Then:

- matched: amounts (with currencies) and statuses are compared. One still unsettled here that the
  gateway has settled is "unsettled here": the reconciliation job records the gateway's answer, so
  it is only listed. Any other difference, "amount differs" or "status differs", needs a person.
- at the gateway only, on one of our payments: recorded now as a refund made outside the portal,
  by `refund_external_record`, exactly as its webhook would have recorded it ("adopted"). A failed
  or canceled one moved no money and is passed over, as the webhook passes it over; one that
  cannot be recorded is "at the gateway only: not recorded", for a person. Refunds of payments the
  portal does not know are not its business: counted, never reported.
- here only (ours, with a gateway refund id, sent in the window, and the gateway does not list it):
  "here, not at the gateway", for a person.
- a gateway that does not answer, at any page, leaves its list incomplete: "gateway did not
  answer", for a person, and nothing is concluded from what its list lacks.

Nothing is written but the adopted refunds: every other exception is left to a person or to the
reconciliation job, never repaired here.

The window, [since, until), is by when the gateway made a refund; ours are taken by when they were
sent to it (on approval, for one that waited for one). The two can be apart (reconciliation sends
a refund again up to a day after it was asked for; a refund sent just before midnight is made just
after), so each gateway is asked for GATEWAY_MARGIN more on either side: refunds in that margin
are matched with ours, but never adopted or reported missing on their own account.

Locks: none of its own. Each adoption is its own transaction, with `refund_external_record`'s locks
(payment → refund → user) and its look-up of the gateway's id under the payment's lock, so a webhook
recording the same refund at the same moment records it once. Gateways are asked outside any
transaction.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import batched

from django.db import connection
from django.db.models.functions import Coalesce

from books.models import DriftCheck
from core.money import money_format
from payments.gateway import GatewayRefundListed, GatewayUnavailable, gateway_for
from payments.models import Payment
from refunds.models import Refund
from refunds.services import RECONCILE_RESEND_WITHIN, refund_external_record

logger = logging.getLogger(__name__)

Kind = DriftCheck.Kind

# How much more each gateway is asked for on either side of the window: reconciliation sends a
# refund again up to RECONCILE_RESEND_WITHIN after it was asked for, and clocks differ a little.
GATEWAY_MARGIN = RECONCILE_RESEND_WITHIN + timedelta(hours=1)
# Listed refunds looked up here together, in a few queries.
CHUNK = 500
# What is counted for each gateway, in this order: made at the gateway in the window; ours, sent
# there in the window (before this run's adoptions); pairs compared; refunds of payments the portal
# does not know; refunds failed at the gateway and unknown here (no money moved).
COUNTS = ("listed", "here", "matched", "not the portal's", "failed at the gateway only")
# How exceptions are listed: what needs a person first, the gravest first.
KIND_ORDER = [
    Kind.GATEWAY_UNAVAILABLE,
    Kind.STATUS_DIFFERS,
    Kind.AMOUNT_DIFFERS,
    Kind.MISSING_AT_GATEWAY,
    Kind.GATEWAY_ONLY,
    Kind.ADOPTED,
    Kind.UNSETTLED_HERE,
]


@dataclass(frozen=True)
class DriftException:
    kind: str  # a `DriftCheck.Kind` value
    gateway: str  # a `Payment.Gateway` value
    detail: str
    gateway_refund_id: str = ""
    refund_id: int | None = None
    payment_id: int | None = None
    customer_id: int | None = None

    @property
    def needs_person(self) -> bool:
        return DriftCheck.needs_person(self.kind)


@dataclass(frozen=True)
class DriftReport:
    since: datetime
    until: datetime
    counts: dict[str, dict[str, int]]  # by gateway: what was listed, held here, matched, passed over
    exceptions: list[DriftException]
    seconds: float

    @property
    def needs_person_count(self) -> int:
        return sum(exception.needs_person for exception in self.exceptions)


def gateway_drift_check(*, since: datetime, until: datetime) -> DriftReport:
    """Compare the portal's refunds made in [since, until) with each gateway's list of its own, and
    report every difference; record the refunds made at the gateway alone, and repair nothing else.

    Run again over the same window, it adopts nothing twice (a refund adopted is ours from then on)
    and reports what still differs.
    """
    if since >= until:
        raise ValueError(f"The window is empty: {since:%Y-%m-%d %H:%M} is not before {until:%Y-%m-%d %H:%M}.")
    if connection.in_atomic_block:
        raise RuntimeError("The drift report asks the gateways; it must not run inside a transaction.")
    started = time.perf_counter()
    counts: dict[str, dict[str, int]] = {}
    exceptions: list[DriftException] = []
    for gateway in Payment.Gateway:
        if not Payment.objects.filter(gateway=gateway).exists():
            continue  # a gateway nobody paid through has nothing of ours to compare
        comparison = _Comparison(gateway=gateway.value, since=since, until=until)
        comparison.run()
        counts[gateway.value] = comparison.counts
        exceptions += comparison.exceptions
    exceptions.sort(key=lambda e: (KIND_ORDER.index(e.kind), e.gateway, e.payment_id or 0, e.refund_id or 0))
    return DriftReport(since, until, counts, exceptions, seconds=time.perf_counter() - started)


def _money(amount: int, currency: str) -> str:
    return money_format(amount, currency) if len(currency) == 3 else f"{amount} (no currency)"


def _sent_at(refund: Refund) -> datetime:
    """When our refund was sent to the gateway: on approval, for one that waited for one."""
    return refund.decided_at or refund.created_at


@dataclass
class _Comparison:
    """One gateway's list against our refunds."""

    gateway: str
    since: datetime
    until: datetime
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    exceptions: list[DriftException] = field(default_factory=list)
    # The gateway's ids of our refunds that it listed (in the window or its margin).
    seen: set[str] = field(default_factory=set)
    # The gateway's ids of the refunds this run recorded: not counted as ours beforehand.
    adopted: set[str] = field(default_factory=set)

    def run(self) -> None:
        label = Payment.Gateway(self.gateway).label
        try:
            listing = gateway_for(self.gateway).refunds_list(
                since=self.since - GATEWAY_MARGIN, until=self.until + GATEWAY_MARGIN
            )
            for chunk in batched(listing, CHUNK, strict=False):  # the last chunk may be short
                self._chunk_compare(chunk)
        except GatewayUnavailable as error:
            logger.error("drift report: %s did not list its refunds (%s); its check is incomplete", label, error)
            self._add(
                Kind.GATEWAY_UNAVAILABLE,
                detail=f"{label} did not list its refunds ({error}): they were not all compared with ours; run the "
                "report again",
            )
            return
        self._missing_report()

    def _within(self, moment: datetime) -> bool:
        return self.since <= moment < self.until

    def _ours(self, listed: tuple[GatewayRefundListed, ...]) -> dict[str, Refund]:
        """Our refund for each listed one that is ours: by its id, or by the portal refund id it
        carries when we have not stored the gateway's id yet (and it is on the same payment)."""
        ours = {
            refund.gateway_refund_id: refund
            for refund in Refund.objects.select_related("payment").filter(
                gateway_refund_id__in=[refund.id for refund in listed]
            )
        }
        named = {
            refund.portal_refund_id: refund for refund in listed if refund.id not in ours and refund.portal_refund_id
        }
        candidates = Refund.objects.select_related("payment").filter(
            pk__in=list(named), gateway_refund_id="", payment__gateway=self.gateway
        )
        for candidate in candidates:
            theirs = named[candidate.pk]
            if candidate.payment.gateway_id in theirs.payment_gateway_ids:
                ours[theirs.id] = candidate
        return ours

    def _chunk_compare(self, listed: tuple[GatewayRefundListed, ...]) -> None:
        ours = self._ours(listed)
        strangers = [refund for refund in listed if refund.id not in ours and self._within(refund.created_at)]
        payment_ids = {payment_id for refund in strangers for payment_id in refund.payment_gateway_ids}
        payments = {
            payment.gateway_id: payment
            for payment in Payment.objects.filter(gateway=self.gateway, gateway_id__in=payment_ids)
        }
        for theirs in listed:
            self.counts["listed"] += self._within(theirs.created_at)
            if (refund := ours.get(theirs.id)) is not None:
                self.seen.add(theirs.id)
                if self._within(theirs.created_at) or self._within(_sent_at(refund)):
                    self.counts["matched"] += 1
                    self._compare(refund, theirs)
            elif self._within(theirs.created_at):
                payment = next((payments[i] for i in theirs.payment_gateway_ids if i in payments), None)
                if payment is None:
                    self.counts["not the portal's"] += 1
                elif theirs.status in (Refund.Status.FAILED, Refund.Status.CANCELED):
                    self.counts["failed at the gateway only"] += 1  # no money moved: as the webhook does
                else:
                    self._adopt(theirs, payment)

    def _compare(self, refund: Refund, theirs: GatewayRefundListed) -> None:
        status_differs = refund.status != theirs.status
        amount_differs = (refund.amount, refund.currency.upper()) != (theirs.amount, theirs.currency)
        if not (status_differs or amount_differs):
            return
        if status_differs and refund.status not in Refund.UNSETTLED:
            kind = Kind.STATUS_DIFFERS
        elif amount_differs:
            kind = Kind.AMOUNT_DIFFERS
        else:
            kind = Kind.UNSETTLED_HERE
        detail = (
            f"here {_money(refund.amount, refund.currency)} {refund.status}, "
            f"at the gateway {_money(theirs.amount, theirs.currency)} {theirs.status}"
        )
        if theirs.failure_reason:
            detail += f" ({theirs.failure_reason})"
        if kind == Kind.UNSETTLED_HERE:
            detail += "; the reconciliation job records the gateway's answer"
        if not refund.gateway_refund_id:
            detail += "; its gateway id is not recorded here yet"
        self._add(kind, detail=detail, theirs=theirs, refund=refund)

    def _adopt(self, theirs: GatewayRefundListed, payment: Payment) -> None:
        made = f"{_money(theirs.amount, theirs.currency)} {theirs.status} at the gateway"
        if not theirs.amount:
            self._add(Kind.GATEWAY_ONLY, detail=f"{made}, with no amount: not recorded", theirs=theirs, payment=payment)
            return
        try:
            refund = refund_external_record(
                payment=payment, answer=theirs.answer, amount=theirs.amount, reason=theirs.reason
            )
        except Exception:
            # One refund that cannot be recorded must not stop the report: it is listed for a person.
            logger.exception(
                "drift report: refund %s at the gateway could not be recorded on payment %s", theirs.id, payment.pk
            )
            self._add(
                Kind.GATEWAY_ONLY,
                detail=f"{made}: could not be recorded (see the logs)",
                theirs=theirs,
                payment=payment,
            )
            return
        self.seen.add(theirs.id)
        self.adopted.add(theirs.id)
        self._add(
            Kind.ADOPTED,
            detail=f"{made}, not here: recorded as made outside the portal ({refund.status})",
            theirs=theirs,
            refund=refund,
        )

    def _missing_report(self) -> None:
        here = (
            Refund.objects.select_related("payment")
            .filter(payment__gateway=self.gateway)
            .exclude(gateway_refund_id="")
            .annotate(sent_at=Coalesce("decided_at", "created_at"))
            .filter(sent_at__gte=self.since, sent_at__lt=self.until)
            .order_by("sent_at", "pk")
        )
        for refund in here.iterator(chunk_size=CHUNK):
            self.counts["here"] += refund.gateway_refund_id not in self.adopted
            if refund.gateway_refund_id not in self.seen:
                self._add(
                    Kind.MISSING_AT_GATEWAY,
                    detail=f"here {_money(refund.amount, refund.currency)} {refund.status}, sent "
                    f"{refund.sent_at:%Y-%m-%d %H:%M} UTC; the gateway does not list it",
                    refund=refund,
                )

    def _add(
        self,
        kind: str,
        *,
        detail: str,
        theirs: GatewayRefundListed | None = None,
        refund: Refund | None = None,
        payment: Payment | None = None,
    ) -> None:
        payment = payment or (refund.payment if refund is not None else None)
        self.exceptions.append(
            DriftException(
                kind=kind,
                gateway=self.gateway,
                detail=detail,
                gateway_refund_id=theirs.id if theirs else (refund.gateway_refund_id if refund else ""),
                refund_id=refund.pk if refund else None,
                payment_id=payment.pk if payment else None,
                customer_id=payment.user_id if payment else None,
            )
        )
