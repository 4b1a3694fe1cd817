"""The payment gateway boundary: the only package that talks to Stripe (or pretends to), and the
only one that reads Stripe's vocabulary.

- `base`: what every gateway answers (`GatewayRefund`, `GatewayRefundListed`, `GatewayDeclined`,
  `GatewayUnavailable`) and the `Gateway` protocol the refund service and the drift report call;
- `stripe_api`: Stripe's Refunds API through the official SDK;
- `stripe_events`: Stripe's webhook events, signature-checked and turned into typed notices;
- `notices`: those notices (`GatewayEventNotice`, `RefundNotice`, `PaymentNotice`, `DisputeNotice`,
  `NoticeIgnored`);
- `sandbox`: an in-process stand-in used when no Stripe key is configured.

Callers import from `payments.gateway`; the names below are its public face.
"""

from django.conf import settings

from payments.gateway.base import (
    Gateway,
    GatewayDeclined,
    GatewayRefund,
    GatewayRefundListed,
    GatewayUnavailable,
    GatewayWebhookRefused,
)
from payments.gateway.notices import (
    DisputeNotice,
    DisputeStatus,
    GatewayEventNotice,
    Notice,
    NoticeIgnored,
    PaymentNotice,
    RefundNotice,
)
from payments.gateway.sandbox import SandboxGateway
from payments.gateway.stripe_api import (
    STRIPE_ACCEPTED_REFUND_REASONS,
    STRIPE_API_VERSION,
    STRIPE_FAILURE_REASONS,
    STRIPE_REFUND_REASONS,
    StripeGateway,
    stripe_refund_answer,
    stripe_refund_reason,
)
from payments.gateway.stripe_events import (
    STRIPE_WEBHOOK_API_VERSION_NEEDED,
    stripe_api_version_outdated,
    stripe_event_notice,
    webhook_event,
)

__all__ = [
    "STRIPE_ACCEPTED_REFUND_REASONS",
    "STRIPE_API_VERSION",
    "STRIPE_FAILURE_REASONS",
    "STRIPE_REFUND_REASONS",
    "STRIPE_WEBHOOK_API_VERSION_NEEDED",
    "DisputeNotice",
    "DisputeStatus",
    "Gateway",
    "GatewayDeclined",
    "GatewayEventNotice",
    "GatewayRefund",
    "GatewayRefundListed",
    "GatewayUnavailable",
    "GatewayWebhookRefused",
    "Notice",
    "NoticeIgnored",
    "PaymentNotice",
    "RefundNotice",
    "SandboxGateway",
    "StripeGateway",
    "gateway_for",
    "stripe_api_version_outdated",
    "stripe_event_notice",
    "stripe_refund_answer",
    "stripe_refund_reason",
    "webhook_event",
]

_sandbox = SandboxGateway()


def gateway_for(name: str) -> Gateway:
    """The gateway a payment was made through."""
    if name == "stripe":
        if not settings.STRIPE_SECRET_KEY:
            raise GatewayUnavailable("Stripe is not configured (STRIPE_SECRET_KEY is unset).")
        return StripeGateway(
            api_key=settings.STRIPE_SECRET_KEY,
            api_base=settings.STRIPE_API_BASE or None,
            timeout=settings.STRIPE_TIMEOUT_SECONDS,
            max_retries=settings.STRIPE_MAX_NETWORK_RETRIES,
        )
    return _sandbox
