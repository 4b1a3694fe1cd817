"""What every payment gateway answers, in the portal's words (no SDK is imported here).

Asked to refund, a gateway answers one of three ways, and the refund service acts on which:
- a `GatewayRefund` with a status (`succeeded`, `pending`, `requires_action`, `failed`, `canceled`);
- `GatewayDeclined`: a definite no (already refunded, card error, invalid request);
- `GatewayUnavailable`: no answer (timeout, connection error, 5xx, rate limit): the refund may or
  may not exist at the gateway, so it stays pending and is asked about again with the same key.
"""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class GatewayRefund:
    id: str
    status: str
    failure_reason: str = ""


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
    ) -> GatewayRefund:
        """Create a refund, or replay the answer to an earlier request with the same key.

        `reason` is a `refunds.Refund.Reason` value; the gateway sends it in its own terms.
        `portal_refund_id` and `portal_staff_id` are kept with the refund at the gateway, so that
        its notices can name our refund before we have stored the gateway's id.
        """
        ...

    def retrieve_refund(self, *, refund_id: str) -> GatewayRefund:
        """The refund's current state at the gateway."""
        ...
