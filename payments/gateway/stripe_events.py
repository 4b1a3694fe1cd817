"""Stripe's webhook events: the signature checked, and the event turned into typed notices.

Every Stripe field name the portal reads in an event is read here (`payment_intent`, `charge`,
`amount_captured`, `metadata`, …); the refund and payment services act on the notices of
`payments.gateway.notices` and never see Stripe's vocabulary. A part of an event that is not
what the portal needs (no portal customer, a malformed amount) becomes a `NoticeIgnored` saying
why, which is recorded as the event's outcome.
"""

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings

from core.text import text_clean
from payments.gateway.base import GatewayWebhookRefused
from payments.gateway.notices import GatewayEventNotice, Notice, NoticeIgnored, PaymentNotice, RefundNotice
from payments.gateway.stripe_api import (
    STRIPE_ID,
    portal_refund_reason,
    stripe_object_id,
    stripe_refund_answer,
    whole_number,
)

logger = logging.getLogger(__name__)

# Stripe's event types; its ids are checked by `stripe_object_id` (STRIPE_ID).
_EVENT_TYPE = re.compile(r"^[a-z0-9_.]{1,100}$")


def webhook_event(payload: bytes, signature: str) -> dict:
    """The event in a Stripe webhook call, once its signature is checked with STRIPE_WEBHOOK_SECRET.

    Refused (`GatewayWebhookRefused`): no secret configured, a missing or wrong signature, a
    timestamp older than Stripe's tolerance (a replayed capture), a body that is not an event.
    """
    secret = settings.STRIPE_WEBHOOK_SECRET
    if not secret:
        raise GatewayWebhookRefused("STRIPE_WEBHOOK_SECRET is not set, so no Stripe webhook can be verified.")
    try:
        stripe.WebhookSignature.verify_header(payload, signature, secret, tolerance=stripe.Webhook.DEFAULT_TOLERANCE)
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, ValueError) as error:  # ValueError: bad UTF-8 or JSON
        raise GatewayWebhookRefused(str(error)) from error
    data = event.get("data") if isinstance(event, dict) else None
    if not (
        isinstance(data, dict)
        and isinstance(data.get("object"), dict)
        and event.get("object") == "event"
        and isinstance(event.get("id"), str)
        and STRIPE_ID.match(event["id"])
        and isinstance(event.get("type"), str)
        and _EVENT_TYPE.match(event["type"])
    ):
        raise GatewayWebhookRefused("The body is not a Stripe event.")
    return event


# Stripe's webhook events the portal acts on. Since API version 2024-10-28 every refund sends
# refund.created/updated/failed with the Refund itself; charge.refunded carries the refunds only
# in older versions (its `refunds` list), and is handled when it does.
STRIPE_REFUND_EVENTS = frozenset({"refund.created", "refund.updated", "refund.failed"})
STRIPE_PAYMENT_EVENTS = frozenset({"charge.succeeded", "payment_intent.succeeded"})
STRIPE_EVENTS = STRIPE_REFUND_EVENTS | STRIPE_PAYMENT_EVENTS | {"charge.refunded"}


def stripe_event_notice(event: Mapping[str, Any]) -> GatewayEventNotice:
    """A verified Stripe event (from `webhook_event`) as the notices the portal acts on."""
    event_type = event["type"]
    stripe_object = event["data"]["object"]
    notices: tuple[Notice, ...] = ()
    if event_type in STRIPE_REFUND_EVENTS:
        notices = (_refund_notice(stripe_object),)
    elif event_type == "charge.refunded":
        refunds = _mapping(stripe_object.get("refunds")).get("data")
        listed = refunds if isinstance(refunds, list) else []
        notices = tuple(_refund_notice(r) for r in listed if isinstance(r, Mapping) and r.get("id"))
        notices = notices or (NoticeIgnored("nothing: the event lists no refunds (their refund.* events carry them)"),)
    elif event_type in STRIPE_PAYMENT_EVENTS:
        notices = (_payment_notice(event_type, stripe_object),)
    return GatewayEventNotice(
        gateway="stripe",
        event_id=event["id"],
        type=event_type,
        object_id=stripe_object_id(stripe_object),
        acted_on=event_type in STRIPE_EVENTS,
        notices=notices,
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _refund_notice(stripe_refund: Mapping[str, Any]) -> RefundNotice | NoticeIgnored:
    if not stripe_object_id(stripe_refund):
        logger.warning("Stripe sent a refund without an id; ignored")
        return NoticeIgnored("ignored: a refund without an id")
    answer = stripe_refund_answer(stripe_refund)
    amount = stripe_refund.get("amount")
    metadata = _mapping(stripe_refund.get("metadata"))
    payment_ids = (stripe_object_id(stripe_refund.get("payment_intent")), stripe_object_id(stripe_refund.get("charge")))
    return RefundNotice(
        gateway_refund_id=answer.id,
        status=answer.status,
        failure_reason=answer.failure_reason,
        amount=amount if isinstance(amount, int) and amount > 0 else None,
        reason=portal_refund_reason(str(stripe_refund.get("reason") or "")),
        payment_gateway_ids=tuple(i for i in payment_ids if i),
        portal_refund_id=whole_number(str(metadata.get("portal_refund_id", ""))),
    )


def _payment_notice(event_type: str, stripe_object: Mapping[str, Any]) -> PaymentNotice | NoticeIgnored:
    metadata = _mapping(stripe_object.get("metadata"))
    user_id = whole_number(str(metadata.get("portal_user_id", "")))
    credits_text = str(metadata.get("credits", "0")).strip()
    credits = whole_number(credits_text)
    if user_id is None:
        return NoticeIgnored("ignored: not a portal customer's payment")
    if credits is None:
        return NoticeIgnored(f"ignored: credits {credits_text!r} is not a whole number")
    if event_type == "charge.succeeded":
        # A charge of a PaymentIntent is recorded under the intent, so that its two events make one payment.
        gateway_id = stripe_object_id(stripe_object.get("payment_intent")) or stripe_object_id(stripe_object)
        amount = stripe_object.get("amount_captured") or stripe_object.get("amount")
    else:
        gateway_id = stripe_object_id(stripe_object)
        amount = stripe_object.get("amount_received") or stripe_object.get("amount")
    currency = str(stripe_object.get("currency") or "")
    if not (currency.isascii() and currency.isalpha()):
        currency = ""
    if not gateway_id:
        return NoticeIgnored("ignored: a payment without an id")
    if not isinstance(amount, int) or amount <= 0 or len(currency) != 3:
        return NoticeIgnored(f"ignored: payment {gateway_id} has no amount or currency")
    created = stripe_object.get("created")
    return PaymentNotice(
        gateway="stripe",
        gateway_id=gateway_id,
        customer_id=user_id,
        amount=amount,
        currency=currency,
        credits=credits,
        description=text_clean(stripe_object.get("description") or metadata.get("description") or "", max_length=255),
        created_at=datetime.fromtimestamp(created, tz=UTC) if isinstance(created, int) else None,
    )
