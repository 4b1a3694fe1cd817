"""The task queue: procrastinate, with its jobs in the portal's own PostgreSQL.

The app object is built by procrastinate's Django integration (`procrastinate.contrib.django`
in INSTALLED_APPS) from the `default` database settings, embedded server or DATABASE_URL alike;
`app` here is that object. Jobs are deferred through Django's own connection, so a job deferred
inside `transaction.atomic()` exists only if that transaction commits. Each app's tasks live in
its `tasks.py`, found automatically; this module holds the queue's own housekeeping and is loaded
by the workers (PROCRASTINATE_IMPORT_PATHS).

Workers: `python manage.py procrastinate worker` (as many as you like: jobs are claimed with
SKIP LOCKED). `make run` starts one beside the web server.
"""

from procrastinate import JobContext, builtin_tasks
from procrastinate.contrib.django import app

__all__ = ["app"]


@app.periodic(cron="*/10 * * * *")
@app.task(queue="housekeeping", queueing_lock="retry_stalled_jobs", pass_context=True)
async def retry_stalled_jobs(context: JobContext, timestamp: int) -> None:
    """Jobs left `doing` by a worker that died (no heartbeat for 30 s) go back to the queue.

    Safe for SMS: a message the dead worker had already marked `sending` is not sent again.
    """
    for job in await context.app.job_manager.get_stalled_jobs():
        await context.app.job_manager.retry_job(job)


@app.periodic(cron="0 4 * * *")
@app.task(queue="housekeeping", queueing_lock="remove_old_jobs", pass_context=True)
async def remove_old_jobs(context: JobContext, timestamp: int) -> None:
    """Finished jobs are kept a week for inspection, then deleted; SmsMessage keeps the history."""
    await builtin_tasks.remove_old_jobs(
        context, max_hours=7 * 24, remove_failed=True, remove_cancelled=True, remove_aborted=True
    )
