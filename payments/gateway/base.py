"""What every payment gateway answers, in the portal's words (no SDK is imported here).

Asked to refund, a gateway answers one of three ways, and the refund service acts on which:
- a `GatewayRefund` with a status (`succeeded`, `pending`, `requires_action`, `failed`, `canceled`);
- `GatewayDeclined`: a definite no (already refunded, card error, invalid request);
- `GatewayUnavailable`: no answer (timeout, connection error, 5xx, rate limit): the refund may or
  may not exist at the gateway, so it stays pending and is asked about again with the same key.

Asked for the refunds it made in a window of time, or on one payment (whoever asked for them: the
portal, or someone in the gateway's dashboard), a gateway lists them as `GatewayRefundListed`, for
the drift report and for reconciliation.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class GatewayRefund:
    id: str
    status: str
    failure_reason: str = ""


@dataclass(frozen=True)
class GatewayRefundListed:
    """A refund as the gateway lists it (`Gateway.refunds_list`), in the portal's words."""

    id: str
    status: str  # as in `GatewayRefund`
    amount: int  # minor units; 0 when the gateway gave no positive amount
    currency: str  # ISO 4217, upper case
    payment_gateway_ids: tuple[str, ...]  # the payment's ids at the gateway (payment intent, charge)
    portal_refund_id: int | None  # our refund's id, when the portal made it
    reason: str  # a `refunds.Refund.Reason` value, "" when the gateway's reason is none of ours
    created_at: datetime
    failure_reason: str = ""

    @property
    def answer(self) -> GatewayRefund:
        """The listed refund as the gateway's answer about it."""
        return GatewayRefund(id=self.id, status=self.status, failure_reason=self.failure_reason)


class GatewayDeclined(Exception):
    """The gateway refused the refund; `str()` is a reason a staff member understands."""


class GatewayUnavailable(Exception):
    """The gateway did not answer; nobody knows yet whether the refund happened."""


class GatewayWebhookRefused(Exception):
    """A webhook call that is not provably from Stripe, or not recent: nothing in it may be acted on."""


class Gateway(Protocol):
    name: str

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
        """Create a refund, or replay the answer to an earlier request with the same key.

        `reason` is a `refunds.Refund.Reason` value; the gateway sends it in its own terms.
        `portal_refund_id` and `portal_staff_id` are kept with the refund at the gateway, so that
        its notices can name our refund before we have stored the gateway's id; so is
        `portal_request_id` (the id of the request that asked for it, for tracing), when given:
        the caller sends the same one on every call with the same key.
        """
        ...

    def retrieve_refund(self, *, refund_id: str) -> GatewayRefund:
        """The refund's current state at the gateway."""
        ...

    def refunds_list(
        self, *, since: datetime | None = None, until: datetime | None = None, payment_gateway_id: str = ""
    ) -> Iterator[GatewayRefundListed]:
        """Every refund the gateway made in [since, until) (an end not given: open), whoever asked
        for it, newest first; only those of one payment when `payment_gateway_id` is given (how
        reconciliation finds a refund whose answer never reached us, by the portal refund id it
        carries).

        Lazy: the gateway is asked a page at a time as the caller goes on. `GatewayUnavailable`
        (at any page) means the list is incomplete, so nothing may be concluded from what is missing.
        """
        ...
