"""Calls from the SMS provider: Twilio's message status callback.

The only view without a login and without CSRF protection: Twilio can do neither. It is
protected by Twilio's signature instead, checked before anything else.
"""

import logging

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.metrics import webhook_observed
from notifications import sms
from notifications.forms import TwilioStatusCallbackForm
from notifications.services import sms_status_record

logger = logging.getLogger(__name__)


def _public_url(request: HttpRequest) -> str:
    # Twilio signs the URL it called. Behind a proxy that is not the URL Django sees, hence
    # PUBLIC_BASE_URL; without it, the request's own (SECURE_PROXY_SSL_HEADER applies).
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL + request.get_full_path()
    return request.build_absolute_uri()


@csrf_exempt
@login_not_required
@require_POST
@webhook_observed("twilio")
def twilio_sms_status(request: HttpRequest, message_id: int) -> HttpResponse:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not sms.twilio_signature_is_valid(url=_public_url(request), params=request.POST, signature=signature):
        logger.warning("Twilio status callback for SMS %s refused: bad signature", message_id)
        return HttpResponseForbidden("Invalid signature.")
    form = TwilioStatusCallbackForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("Missing MessageSid or MessageStatus.")
    # Unknown messages get a 200 too: an error would only make Twilio try again.
    sms_status_record(
        message_id=message_id,
        provider_message_id=form.cleaned_data["MessageSid"],
        provider_status=form.cleaned_data["MessageStatus"],
        error_code=form.cleaned_data["ErrorCode"],
    )
    return HttpResponse(status=200)
