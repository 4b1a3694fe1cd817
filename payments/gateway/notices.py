"""What the gateway's webhook events say, as typed notices in the portal's words.

The gateway boundary turns each verified event into one `GatewayEventNotice`: which event it is
(for the once-per-event bookkeeping) and what it reports, as a list of `RefundNotice`,
`PaymentNotice` and `NoticeIgnored` (a part the portal cannot act on, and why). Nothing above
the boundary reads the gateway's field names; it acts on these.
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


@dataclass(frozen=True)
class NoticeIgnored:
    """A part of an event that the portal does not act on; `outcome` says why, in a few words."""

    outcome: str


Notice = RefundNotice | PaymentNotice | NoticeIgnored


@dataclass(frozen=True)
class GatewayEventNotice:
    """One verified webhook event: which it is, and what it reports.

    `acted_on` is False for an event of a type the portal does not act on (its `notices` are
    empty): those are answered but not recorded.
    """

    gateway: str  # a `payments.Payment.Gateway` value
    event_id: str
    type: str
    object_id: str  # what it is about (a refund, a charge, a payment), for the log
    acted_on: bool
    notices: tuple[Notice, ...]
