from dataclasses import dataclass

from django.conf import settings
from django.db import models

from notifications.models import SmsMessage


@dataclass(frozen=True)
class SmsMessagePage:
    messages: list[SmsMessage]
    has_more: bool  # older messages exist beyond this page


def sms_message_list(*, user: models.Model, limit: int | None = None) -> SmsMessagePage:
    """The text messages sent to `user`, newest first, at most `limit` of them, in one query."""
    limit = limit or settings.SMS_MESSAGES_SHOWN
    rows = list(SmsMessage.objects.filter(user=user).order_by("-created_at", "-id")[: limit + 1])
    return SmsMessagePage(messages=rows[:limit], has_more=len(rows) > limit)
