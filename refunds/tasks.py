"""The queue's jobs for refunds: reconciling refunds left pending.

Found by procrastinate's Django integration (it imports every app's `tasks.py`), so every worker
defers it on schedule: the queue records one job per scheduled time, whichever worker is first,
and the queueing lock keeps at most one waiting.
"""

import logging

from procrastinate.contrib.django import app

from refunds import services

logger = logging.getLogger(__name__)


@app.periodic(cron="*/5 * * * *")
@app.task(name="refunds.reconcile", queue="refunds", queueing_lock="refunds_reconcile")
def refunds_reconcile(timestamp: int) -> None:
    """Every five minutes: the gateway is asked again about refunds pending for RECONCILE_AFTER_SECONDS.

    Two runs at once are harmless: each refund is claimed with its advisory lock, so only one
    asks about it; gateway calls happen outside any transaction (a sync task runs in autocommit).
    """
    results = services.refunds_reconcile()
    settled = [result for result in results if result.changed]
    for result in settled:
        logger.info("refund %s reconciled: %s -> %s", result.refund_id, result.before, result.after)
    if results:
        logger.info("reconciliation: %d settled, %d still unsettled", len(settled), len(results) - len(settled))
