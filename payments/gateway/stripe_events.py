"""Stripe's webhook events: the signature checked, and the event turned into typed notices.

Every Stripe field name the portal reads in an event is read here (`payment_intent`, `charge`,
`amount_captured`, `metadata`, …); the refund and payment services act on the notices of
`payments.gateway.notices` and never see Stripe's vocabulary. A part of an event that is not
what the portal needs (no portal customer, a malformed amount) becomes a `NoticeIgnored` saying
why, which is recorded as the event's outcome.

Signed is not the same as well formed. An event whose envelope names nothing the portal could
record (no id, an id that is not Stripe's, no object) is refused by `webhook_event` (a 400). One
that can be named but carries a value of the wrong type or out of range (an amount of 10^20, a
`created` in the year 30 million, a currency `u$d`) becomes a `NoticeIgnored` "unusable: …": it
is recorded once and answered 200, because Stripe retries any other answer for three days and
the event will never become usable; nothing else changes.

API versions: Stripe writes each event in the API version of the endpoint it is sent to. The
handlers need 2024-10-28 or later (`STRIPE_WEBHOOK_API_VERSION_NEEDED`): before it, Stripe sends
no `refund.*` event for a charge's refund (a Dashboard refund, a refund that fails late), only
`charge.refunded` and `charge.refund.updated`. An older event is still acted on where it can be,
and the notice says why the version matters, for the log, the health check and Finance.
"""

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings

from core.text import text_clean
from payments.gateway.base import GatewayWebhookRefused
from payments.gateway.notices import (
    DisputeNotice,
    DisputeStatus,
    GatewayEventNotice,
    Notice,
    NoticeIgnored,
    PaymentNotice,
    RefundNotice,
)
from payments.gateway.stripe_api import (
    STRIPE_ID,
    portal_refund_reason,
    stripe_object_id,
    stripe_refund_answer,
    whole_number,
)

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
# in versions before 2022-11-15 (its `refunds` list), and is handled when it does;
# charge.refund.updated (sent in every version) carries the Refund, like refund.updated.
STRIPE_REFUND_EVENTS = frozenset({"refund.created", "refund.updated", "refund.failed", "charge.refund.updated"})
STRIPE_PAYMENT_EVENTS = frozenset({"charge.succeeded", "payment_intent.succeeded"})
# Every one carries the Dispute as it is now. funds_withdrawn and funds_reinstated say the same
# news as created and closed (won) in money terms; taken as the dispute's state all the same.
STRIPE_DISPUTE_EVENTS = frozenset(
    {
        "charge.dispute.created",
        "charge.dispute.updated",
        "charge.dispute.closed",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
    }
)
STRIPE_EVENTS = STRIPE_REFUND_EVENTS | STRIPE_PAYMENT_EVENTS | STRIPE_DISPUTE_EVENTS | {"charge.refunded"}

# The oldest API version whose events the handlers are written for (see the module docstring).
STRIPE_WEBHOOK_API_VERSION_NEEDED = "2024-10-28"
_API_VERSION = re.compile(r"^(\d{4}-\d{2}-\d{2})(\.[a-z]{1,32})?$")

# The largest amount Stripe takes, in minor units (twelve digits, for currencies such as IDR).
# Anything larger in an event is not an amount Stripe could have moved.
STRIPE_AMOUNT_MAX = 999_999_999_999
# Unix times Python (and so the portal) can hold: up to the last second of the year 9999.
_TIMESTAMP_MAX = 253_402_300_799

_REFUND_STATUSES = frozenset({"pending", "requires_action", "succeeded", "failed", "canceled"})

# Stripe's dispute statuses in ours (its `warning_*` are inquiries, before any chargeback).
STRIPE_DISPUTE_STATUSES = {
    "warning_needs_response": DisputeStatus.INQUIRY_NEEDS_RESPONSE,
    "warning_under_review": DisputeStatus.INQUIRY_UNDER_REVIEW,
    "warning_closed": DisputeStatus.INQUIRY_CLOSED,
    "needs_response": DisputeStatus.NEEDS_RESPONSE,
    "under_review": DisputeStatus.UNDER_REVIEW,
    "won": DisputeStatus.WON,
    "lost": DisputeStatus.LOST,
    "prevented": DisputeStatus.PREVENTED,
}

# The banks' reasons, as Stripe names them (API reference, the Dispute object: `reason`), in words.
STRIPE_DISPUTE_REASONS = {
    "bank_cannot_process": "Bank cannot process",
    "check_returned": "Check returned",
    "credit_not_processed": "Credit not processed",
    "customer_initiated": "Customer initiated",
    "debit_not_authorized": "Debit not authorized",
    "duplicate": "Duplicate",
    "fraudulent": "Fraudulent",
    "general": "General",
    "incorrect_account_details": "Incorrect account details",
    "insufficient_funds": "Insufficient funds",
    "noncompliant": "Noncompliant",
    "product_not_received": "Product not received",
    "product_unacceptable": "Product unacceptable",
    "subscription_canceled": "Subscription canceled",
    "unrecognized": "Unrecognized",
}


class _Unusable(ValueError):
    """A value in a signed event that no Stripe API could have sent; the message says which."""


def stripe_api_version_outdated(api_version: str) -> str:
    """Why events written in `api_version` miss news the handlers need, in a sentence for Finance
    and the log; "" when the version is recent enough."""
    match = _API_VERSION.match(api_version)
    if match is not None and match.group(1) >= STRIPE_WEBHOOK_API_VERSION_NEEDED:
        return ""
    named = f"API version {api_version}" if match is not None else "no API version the portal can read"
    return (
        f"Stripe sends this endpoint's events in {named}, older than {STRIPE_WEBHOOK_API_VERSION_NEEDED}: "
        "Stripe then sends no refund.* event for a card payment's refund, so refunds made in the Stripe "
        "Dashboard and refunds that fail late reach the books only through the nightly gateway drift report. "
        f"Set the webhook endpoint's API version to {STRIPE_WEBHOOK_API_VERSION_NEEDED} or later in the "
        "Stripe Dashboard."
    )


def stripe_event_notice(event: Mapping[str, Any]) -> GatewayEventNotice:
    """A verified Stripe event (from `webhook_event`) as the notices the portal acts on."""
    event_type = event["type"]
    stripe_object = event["data"]["object"]
    raw_version = event.get("api_version")
    api_version = raw_version if isinstance(raw_version, str) and _API_VERSION.match(raw_version) else "unknown"
    acted_on = event_type in STRIPE_EVENTS
    notices: tuple[Notice, ...] = ()
    if acted_on:
        try:
            notices = _notices(event_type, stripe_object, event=event, api_version=api_version)
        except _Unusable as unusable:
            notices = (NoticeIgnored(f"unusable: {unusable}"),)
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as error:
            # The last line of defence of a boundary that reads what anyone with the secret may
            # sign: a shape nobody foresaw is recorded as unusable, never a 500 retried for days.
            notices = (NoticeIgnored(f"unusable: {type(error).__name__} reading the {event_type} event"),)
    return GatewayEventNotice(
        gateway="stripe",
        event_id=event["id"],
        type=event_type,
        object_id=stripe_object_id(stripe_object),
        acted_on=acted_on,
        notices=notices,
        api_version=api_version,
        api_version_outdated=stripe_api_version_outdated(api_version),
    )


def _notices(
    event_type: str, stripe_object: Mapping[str, Any], *, event: Mapping[str, Any], api_version: str
) -> tuple[Notice, ...]:
    reported_at = _timestamp(event.get("created"), "the event's created")
    if reported_at is None:
        raise _Unusable("the event has no created time")
    if event_type in STRIPE_REFUND_EVENTS:
        return (_refund_notice(stripe_object),)
    if event_type == "charge.refunded":
        refunds = _mapping(stripe_object.get("refunds")).get("data")
        listed = refunds if isinstance(refunds, list) else []
        notices = tuple(_refund_notice(r) for r in listed if isinstance(r, Mapping) and r.get("id"))
        if notices:
            return notices
        if stripe_api_version_outdated(api_version):
            return (
                NoticeIgnored(
                    f"not recorded: the event lists no refunds and API version {api_version} sends no "
                    "refund.* events; the gateway drift report will record the refund"
                ),
            )
        return (NoticeIgnored("nothing: the event lists no refunds (their refund.* events carry them)"),)
    if event_type in STRIPE_PAYMENT_EVENTS:
        return (_payment_notice(event_type, stripe_object),)
    return (_dispute_notice(stripe_object, reported_at=reported_at),)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _amount(value: Any) -> int | None:
    """A positive amount Stripe could have moved, or None (absent, not an integer, or too large)."""
    # bool is an int in Python; `true` is not an amount.
    return value if type(value) is int and 0 < value <= STRIPE_AMOUNT_MAX else None


def _timestamp(value: Any, what: str) -> datetime | None:
    """A Unix time as a UTC datetime; None when absent; unusable when present and not a time."""
    if value is None:
        return None
    if type(value) is not int or not 0 <= value <= _TIMESTAMP_MAX:
        raise _Unusable(f"{what} is not a time")
    return datetime.fromtimestamp(value, tz=UTC)


def _currency(value: Any) -> str:
    """An ISO 4217 code, upper case, or "" when the value is not three ASCII letters."""
    if isinstance(value, str) and len(value) == 3 and value.isascii() and value.isalpha():
        return value.upper()
    return ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _refund_notice(stripe_refund: Mapping[str, Any]) -> RefundNotice | NoticeIgnored:
    refund_id = stripe_object_id(stripe_refund)
    if not refund_id:
        return NoticeIgnored("ignored: a refund without an id")
    status = stripe_refund.get("status")
    if status is not None and (not isinstance(status, str) or status not in _REFUND_STATUSES):
        raise _Unusable(f"refund {refund_id} has a status Stripe does not have")
    failure_reason = stripe_refund.get("failure_reason")
    # Only the fields it reads, each of the type Stripe sends, to the SDK-side reading of a refund.
    failure_reason = failure_reason if isinstance(failure_reason, str) else None
    answer = stripe_refund_answer({"id": refund_id, "status": status, "failure_reason": failure_reason})
    metadata = _mapping(stripe_refund.get("metadata"))
    payment_ids = (stripe_object_id(stripe_refund.get("payment_intent")), stripe_object_id(stripe_refund.get("charge")))
    return RefundNotice(
        gateway_refund_id=answer.id,
        status=answer.status,
        failure_reason=answer.failure_reason,
        amount=_amount(stripe_refund.get("amount")),
        reason=portal_refund_reason(_text(stripe_refund.get("reason"))),
        payment_gateway_ids=tuple(i for i in payment_ids if i),
        portal_refund_id=whole_number(_text(metadata.get("portal_refund_id"))),
    )


def _payment_notice(event_type: str, stripe_object: Mapping[str, Any]) -> PaymentNotice | NoticeIgnored:
    metadata = _mapping(stripe_object.get("metadata"))
    user_id = whole_number(_text(metadata.get("portal_user_id")))
    credits_text = _text(metadata.get("credits", "0")).strip()
    credits = whole_number(credits_text)
    if user_id is None:
        return NoticeIgnored("ignored: not a portal customer's payment")
    if credits is None or credits > STRIPE_AMOUNT_MAX:
        return NoticeIgnored(f"ignored: credits {credits_text[:20]!r} is not a whole number")
    if event_type == "charge.succeeded":
        # A charge of a PaymentIntent is recorded under the intent, so that its two events make one payment.
        gateway_id = stripe_object_id(stripe_object.get("payment_intent")) or stripe_object_id(stripe_object)
        amount = _amount(stripe_object.get("amount_captured")) or _amount(stripe_object.get("amount"))
    else:
        gateway_id = stripe_object_id(stripe_object)
        amount = _amount(stripe_object.get("amount_received")) or _amount(stripe_object.get("amount"))
    currency = _currency(stripe_object.get("currency"))
    if not gateway_id:
        return NoticeIgnored("ignored: a payment without an id")
    if amount is None or not currency:
        return NoticeIgnored(f"ignored: payment {gateway_id} has no amount or currency")
    created_at = _timestamp(stripe_object.get("created"), f"payment {gateway_id}'s created")
    description = _text(stripe_object.get("description")) or _text(metadata.get("description"))
    return PaymentNotice(
        gateway="stripe",
        gateway_id=gateway_id,
        customer_id=user_id,
        amount=amount,
        currency=currency,
        credits=credits,
        description=text_clean(description, max_length=255),
        created_at=created_at,
    )


def _dispute_notice(stripe_dispute: Mapping[str, Any], *, reported_at: datetime) -> DisputeNotice:
    dispute_id = stripe_object_id(stripe_dispute)
    if not dispute_id:
        raise _Unusable("a dispute without an id")
    payment_ids = tuple(i for i in (stripe_object_id(stripe_dispute.get(f)) for f in ("charge", "payment_intent")) if i)
    amount = _amount(stripe_dispute.get("amount"))
    currency = _currency(stripe_dispute.get("currency"))
    status = stripe_dispute.get("status")
    if not payment_ids:
        raise _Unusable(f"dispute {dispute_id} names no payment")
    if amount is None or not currency:
        raise _Unusable(f"dispute {dispute_id} has no amount or currency Stripe could send")
    if not isinstance(status, str) or status not in STRIPE_DISPUTE_STATUSES:
        raise _Unusable(f"dispute {dispute_id} has a status the portal does not know")
    reason = _text(stripe_dispute.get("reason"))
    evidence = _mapping(stripe_dispute.get("evidence_details"))
    refundable = stripe_dispute.get("is_charge_refundable")
    return DisputeNotice(
        gateway_dispute_id=dispute_id,
        payment_gateway_ids=payment_ids,
        amount=amount,
        currency=currency,
        # Stripe's reasons in words; one it added later is shown as it names it, made readable.
        reason=STRIPE_DISPUTE_REASONS.get(reason) or text_clean(reason.replace("_", " "), max_length=60).capitalize(),
        status=STRIPE_DISPUTE_STATUSES[status],
        evidence_due_at=_timestamp(evidence.get("due_by"), f"dispute {dispute_id}'s evidence due date"),
        # Unless Stripe says the payment can still be refunded, it cannot (Stripe refuses it: charge_disputed).
        charge_refundable=refundable is True,
        opened_at=_timestamp(stripe_dispute.get("created"), f"dispute {dispute_id}'s created"),
        reported_at=reported_at,
    )
