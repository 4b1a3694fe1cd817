"""Stripe's webhook events about disputes, as Stripe writes them, and their delivery to the
portal's webhook URL signed as Stripe signs them.

The shapes follow Stripe's API reference (the Dispute object: `amount`, `charge`, `currency`,
`evidence_details.due_by`, `is_charge_refundable`, `payment_intent`, `reason`, `status`).
"""

import json
import time

from django.test import Client

from tests.fakes.stripe import stripe_event, stripe_signature

WEBHOOK_URL = "/webhooks/stripe/"
EVIDENCE_DUE_IN = 7 * 24 * 60 * 60  # Stripe usually gives a week or more


def stripe_charge_id(payment) -> str:
    """The Charge of `payment` (a payments.Payment recorded under its PaymentIntent), as
    `tests.fakes.stripe.stripe_refund` names it."""
    return "ch_3Charge" + payment.gateway_id[-6:]


def stripe_dispute(
    dispute_id: str,
    payment,
    *,
    status: str = "needs_response",
    amount: int | None = None,
    reason: str = "fraudulent",
    due_by: int | None = None,
    is_charge_refundable: bool = False,
    **fields,
) -> dict:
    """A Stripe Dispute on `payment` (a payments.Payment), as a charge.dispute.* event carries it:
    the whole payment by default, needing a response within a week."""
    created = int(time.time())
    return {
        "id": dispute_id,
        "object": "dispute",
        "amount": payment.amount if amount is None else amount,
        "balance_transactions": [],
        "charge": stripe_charge_id(payment),
        "created": created,
        "currency": payment.currency.lower(),
        "evidence": {"customer_name": None, "uncategorized_text": None},
        "evidence_details": {
            "due_by": created + EVIDENCE_DUE_IN if due_by is None else due_by,
            "has_evidence": False,
            "past_due": False,
            "submission_count": 0,
        },
        "is_charge_refundable": is_charge_refundable,
        "livemode": False,
        "metadata": {},
        "payment_intent": payment.gateway_id if payment.gateway_id.startswith("pi_") else None,
        "reason": reason,
        "status": status,
    } | fields


def dispute_event(
    event_type: str, dispute: dict, *, created: int | None = None, api_version: str | None = None
) -> dict:
    """A charge.dispute.* event carrying `dispute` (from `stripe_dispute`)."""
    event = stripe_event(event_type, dispute, created=created)
    if api_version is not None:
        event["api_version"] = api_version
    return event


def stripe_deliver(client: Client, event: dict, **signing):
    """POST `event` to the portal's Stripe webhook URL, signed with the test secret (or `signing`)."""
    payload = json.dumps(event)
    return client.post(
        WEBHOOK_URL,
        data=payload,
        content_type="application/json",
        headers={"Stripe-Signature": stripe_signature(payload, **signing)},
    )
