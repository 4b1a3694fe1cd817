from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Count, Q
from django.utils import timezone

from notifications.models import SMS_UNFINISHED_STATUSES, TWILIO_AUTHENTICATION_ERROR, SmsMessage, SmsStatus


@dataclass(frozen=True)
class SmsMessagePage:
    messages: list[SmsMessage]
    has_more: bool  # older messages exist beyond this page


def sms_message_list(*, user: models.Model, limit: int | None = None) -> SmsMessagePage:
    """The text messages sent to `user`, newest first, at most `limit` of them, in one query."""
    limit = limit or settings.SMS_MESSAGES_SHOWN
    rows = list(SmsMessage.objects.filter(user=user).order_by("-created_at", "-id")[: limit + 1])
    return SmsMessagePage(messages=rows[:limit], has_more=len(rows) > limit)


@dataclass(frozen=True)
class SmsHealth:
    waiting_for_credentials: int  # refused with 401/20003: they go once the settings are fixed
    unconfirmed: int  # an answer was lost: looked up at the provider before any resend
    stalled_sending: int  # left `sending` by a stopped worker, not yet recovered


def sms_health() -> SmsHealth:
    """Counts of the unfinished messages that need a person's eye, in one query (the partial index
    over unfinished messages serves it)."""
    stalled_before = timezone.now() - timedelta(seconds=settings.SMS_SENDING_STALLED_SECONDS)
    counts = SmsMessage.objects.filter(status__in=SMS_UNFINISHED_STATUSES).aggregate(
        waiting_for_credentials=Count("pk", filter=Q(error_code=TWILIO_AUTHENTICATION_ERROR)),
        unconfirmed=Count("pk", filter=Q(status=SmsStatus.UNCONFIRMED)),
        stalled_sending=Count(
            "pk",
            filter=Q(status=SmsStatus.SENDING, provider_message_id="", status_changed_at__lte=stalled_before),
        ),
    )
    return SmsHealth(**counts)
