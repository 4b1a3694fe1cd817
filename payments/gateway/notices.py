"""What the gateway's webhook events say, as typed notices in the portal's words.

The gateway boundary turns each verified event into one `GatewayEventNotice`: which event it is
(for the once-per-event bookkeeping) and what it reports, as a list of `RefundNotice`,
`PaymentNotice`, `DisputeNotice` and `NoticeIgnored` (a part the portal cannot act on, and why).
Nothing above the boundary reads the gateway's field names; it acts on these.
"""

from dataclasses import dataclass
from datetime import datetime

from payments.gateway.base import GatewayRefund


@dataclass(frozen=True)
class RefundNotice:
    """A refund at the gateway, as it is now: one of ours, or one made there (in the Dashboard)."""

    gateway_refund_id: str
    status: str  # as in `GatewayRefund`
    failure_reason: str  # in words a staff member understands; "" unless failed or canceled
    amount: int | None  # minor units; None when the notice carries no positive amount
    reason: str  # a `refunds.Refund.Reason` value, "" when the gateway's reason is none of ours
    payment_gateway_ids: tuple[str, ...]  # the payment's ids at the gateway (payment intent, charge)
    portal_refund_id: int | None  # our refund's id, when the refund was made by the portal

    @property
    def answer(self) -> GatewayRefund:
        """The notice as the gateway's answer about the refund."""
        return GatewayRefund(id=self.gateway_refund_id, status=self.status, failure_reason=self.failure_reason)


@dataclass(frozen=True)
class PaymentNotice:
    """A payment a portal customer made at the gateway (a checkout on the website)."""

    gateway: str  # a `payments.Payment.Gateway` value
    gateway_id: str
    customer_id: int
    amount: int  # minor units, positive
    currency: str
    credits: int  # credits bought, >= 0
    description: str
    created_at: datetime | None


class DisputeStatus:
    """Where a dispute stands, in the portal's words (`payments.models.Dispute.Status` values).

    An inquiry is the bank asking before it charges back; a chargeback needs a response with
    evidence by a due date; it is then under review until the bank decides: won (the money comes
    back) or lost (it stays with the customer). Prevented: closed by an early fraud resolution.
    """

    INQUIRY_NEEDS_RESPONSE = "inquiry_needs_response"
    INQUIRY_UNDER_REVIEW = "inquiry_under_review"
    INQUIRY_CLOSED = "inquiry_closed"
    NEEDS_RESPONSE = "needs_response"
    UNDER_REVIEW = "under_review"
    WON = "won"
    LOST = "lost"
    PREVENTED = "prevented"

    OPEN = frozenset({INQUIRY_NEEDS_RESPONSE, INQUIRY_UNDER_REVIEW, NEEDS_RESPONSE, UNDER_REVIEW})
    CLOSED = frozenset({INQUIRY_CLOSED, WON, LOST, PREVENTED})


@dataclass(frozen=True)
class DisputeNotice:
    """A dispute (chargeback or inquiry) on a payment, as it is now at the gateway."""

    gateway_dispute_id: str
    payment_gateway_ids: tuple[str, ...]  # the disputed payment's ids at the gateway (charge, payment intent)
    amount: int  # minor units, positive: what the bank holds back
    currency: str  # ISO 4217, upper case
    reason: str  # the bank's reason, in words ("Fraudulent", "Product not received", …)
    status: str  # a `DisputeStatus` value
    evidence_due_at: datetime | None  # when a response is due, while one is
    charge_refundable: bool  # whether the gateway would still take a refund of the payment
    opened_at: datetime | None  # when the dispute was opened at the gateway
    reported_at: datetime  # when the gateway wrote this news (the event's time): older news never wins


@dataclass(frozen=True)
class NoticeIgnored:
    """A part of an event that the portal does not act on; `outcome` says why, in a few words."""

    outcome: str


Notice = RefundNotice | PaymentNotice | DisputeNotice | NoticeIgnored


@dataclass(frozen=True)
class GatewayEventNotice:
    """One verified webhook event: which it is, and what it reports.

    `acted_on` is False for an event of a type the portal does not act on (its `notices` are
    empty): those are answered but not recorded. An event that is signed but unusable (a field
    of the wrong type or out of range) is acted on as one `NoticeIgnored` saying "unusable: …":
    recorded once, so that the gateway stops sending it, and nothing else changes.
    """

    gateway: str  # a `payments.Payment.Gateway` value
    event_id: str
    type: str
    object_id: str  # what it is about (a refund, a charge, a payment, a dispute), for the log
    acted_on: bool
    notices: tuple[Notice, ...]
    # The gateway's API version the event was written in ("unknown" when it names none), and, when that
    # is older than the handlers need, why it matters, in a sentence for Finance and the log.
    api_version: str = ""
    api_version_outdated: str = ""
