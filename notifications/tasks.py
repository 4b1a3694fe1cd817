"""The queue's jobs for notifications: sending a text message.

Jobs carry only the message's id (and the id of the request that queued it, for the logs): no
number or text ever sits in the queue's tables or logs.
"""

import random

from django.conf import settings
from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.contrib.django import app
from procrastinate.jobs import Job

from core.correlation import correlation_scope
from notifications import sending
from notifications.sms import SmsTemporaryError


class SmsRetryStrategy(BaseRetryStrategy):
    """Exponential backoff for passing failures only; permanent ones and bugs are not retried.

    BACKOFF, 2 * BACKOFF, 4 * BACKOFF… seconds (±10%, so messages that failed together do not all
    come back together), at most BACKOFF_MAX. The numbers are read from settings at each decision.
    `sms_send` itself marks the message `failed` on its last attempt; the cap here is a backstop.
    """

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if not isinstance(exception, SmsTemporaryError):
            return None
        if job.attempts + 1 >= settings.SMS_SEND_MAX_ATTEMPTS:
            return None
        delay = min(settings.SMS_RETRY_BACKOFF_SECONDS * 2**job.attempts, settings.SMS_RETRY_BACKOFF_MAX_SECONDS)
        delay *= random.uniform(0.9, 1.1)  # noqa: S311  (jitter, not a secret)
        return RetryDecision(retry_in={"seconds": delay})


# Named "notifications.sms_send" before notifications had its own app: jobs already queued under that
# name still run.
@app.task(name="notifications.sms_send", aliases=["accounts.sms_send"], queue="sms", retry=SmsRetryStrategy())
def sms_send(message_id: int, correlation_id: str = "") -> None:
    with correlation_scope(correlation_id):
        sending.sms_send(message_id=message_id)
