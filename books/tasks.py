"""The queue's jobs for the books: the daily check, and the daily drift report against the gateways."""

from datetime import UTC, datetime, timedelta

from procrastinate.contrib.django import app

from books.drift import gateway_drift_check
from books.services import books_check_record, drift_check_record

# The nightly drift report looks this far back: a refund's answer can arrive days late (a bank
# returning it), and looking again at days already looked at changes nothing that agrees.
DRIFT_DAYS = 3


@app.periodic(cron="30 3 * * *")
@app.task(name="books.check", queue="housekeeping", queueing_lock="books_check")
def books_check(timestamp: int) -> None:
    """Every night: check the books and keep the result (the Books page shows the last one)."""
    books_check_record()


# Before the books check, so that the check sees the refunds it adopted.
@app.periodic(cron="15 3 * * *")
@app.task(name="books.gateway_drift", queue="housekeeping", queueing_lock="books_gateway_drift")
def gateway_drift(timestamp: int) -> None:
    """Every night: the last DRIFT_DAYS whole days (UTC) of refunds against each gateway's list;
    refunds made at a gateway alone are recorded, the rest kept for the Books page."""
    until = datetime.fromtimestamp(timestamp, tz=UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    drift_check_record(report=gateway_drift_check(since=until - timedelta(days=DRIFT_DAYS), until=until))
