"""Giving money back: the refund service, one module per concern.

- `request`: `refund_execute`, in the phases of DESIGN.md (reserve, ask the gateway, record).
- `settle`: the gateway's answer recorded, a refund reversed, the customer's texts.
- `reconcile`: refunds left unsettled asked about again.
- `approvals`: maker-checker for large refunds.
- `notices`: the gateway's webhook notices acted on, once.
- `locks`: every lock they take, and the one order they take them in (payment → refund → user).

Callers import from here; the names below are the service's public face.
"""

from refunds.services.approvals import refund_approve, refund_reject
from refunds.services.notices import refund_external_record, stripe_event_process
from refunds.services.reconcile import RECONCILE_RESEND_WITHIN, RefundReconciled, refund_reconcile, refunds_reconcile
from refunds.services.request import (
    Refundable,
    RefundRefused,
    RefundStale,
    RefundUnrecorded,
    credits_for_amount,
    payment_refundable,
    refund_execute,
)
from refunds.services.settle import (
    refund_gateway_update,
    refund_record_answer,
    refund_reversal_sms_body,
    refund_reverse,
    refund_sms_body,
)

__all__ = [
    "RECONCILE_RESEND_WITHIN",
    "RefundReconciled",
    "RefundRefused",
    "RefundStale",
    "RefundUnrecorded",
    "Refundable",
    "credits_for_amount",
    "payment_refundable",
    "refund_approve",
    "refund_execute",
    "refund_external_record",
    "refund_gateway_update",
    "refund_reconcile",
    "refund_record_answer",
    "refund_reject",
    "refund_reversal_sms_body",
    "refund_reverse",
    "refund_sms_body",
    "refunds_reconcile",
    "stripe_event_process",
]
