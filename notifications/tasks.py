"""The queue's jobs for notifications: sending a text message, and recovering the ones a dead
worker left half-sent.

Jobs carry only the message's id (and the id of the request that queued it, for the logs): no
number or text ever sits in the queue's tables or logs.
"""

import logging
import random

from django.conf import settings
from procrastinate import BaseRetryStrategy, RetryDecision
from procrastinate.contrib.django import app
from procrastinate.jobs import Job

from core.correlation import correlation_scope
from notifications import sending
from notifications.sms import SmsConfigurationError, SmsTemporaryError

logger = logging.getLogger(__name__)


class SmsRetryStrategy(BaseRetryStrategy):
    """Exponential backoff for passing failures only; permanent ones and bugs are not retried.

    BACKOFF, 2 * BACKOFF, 4 * BACKOFF… seconds (±10%, so messages that failed together do not all
    come back together), at most BACKOFF_MAX. The numbers are read from settings at each decision.
    `sms_send` itself marks the message `failed` on its last attempt; the cap here is a backstop.

    Refused credentials (401, 20003) are the portal's configuration, not the message's: retried
    every SMS_CONFIGURATION_RETRY_SECONDS without limit, so every message goes once the settings
    are fixed (the health check says they are waiting).
    """

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, SmsConfigurationError):
            delay = settings.SMS_CONFIGURATION_RETRY_SECONDS * random.uniform(0.9, 1.1)  # noqa: S311
            return RetryDecision(retry_in={"seconds": delay})
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


@app.periodic(cron="*/5 * * * *")
@app.task(name="notifications.sms_stalled_recover", queue="sms", queueing_lock="sms_stalled_recover")
def sms_stalled_recover(timestamp: int) -> None:
    """Every five minutes: messages left `sending` by a dead worker are looked up at Twilio, then
    adopted or sent once (each through a new send job, deferred with its change of status)."""
    recovered = sending.sms_stalled_recover(resend=lambda message_id: sms_send.defer(message_id=message_id))
    if recovered:
        logger.warning("%d text message(s) left sending by a stopped worker: looked up next", len(recovered))
