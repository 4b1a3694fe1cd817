"""Calls from the payment gateway: Stripe's webhook events.

Without a login and without CSRF protection (Stripe can do neither), so protected by Stripe's
signature instead, checked before anything else: a call that is not provably from Stripe, or is
older than Stripe's tolerance (a replayed capture), gets a 400 and changes nothing.
"""

import logging

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.metrics import webhook_observed
from payments.gateway import GatewayWebhookRefused, webhook_event
from refunds.services import stripe_event_process

logger = logging.getLogger(__name__)


@csrf_exempt
@login_not_required
@require_POST
@webhook_observed("stripe")
def stripe_webhook(request: HttpRequest) -> HttpResponse:
    try:
        event = webhook_event(request.body, request.headers.get("Stripe-Signature", ""))
    except GatewayWebhookRefused as refused:
        logger.warning("Stripe webhook refused: %s", refused)
        return HttpResponseBadRequest("Invalid signature.")
    # Events we do not act on, and ones already processed, get a 200 too: an error would only
    # make Stripe send them again. An exception is a 500, and Stripe's retry starts afresh.
    stripe_event_process(event=event)
    return HttpResponse(status=200)
