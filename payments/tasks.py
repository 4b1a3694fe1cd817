"""The queue's jobs for payments, found by procrastinate's Django integration (it imports every
app's `tasks.py`): applying a bulk credits file (defined beside the service that defers it)."""

from payments.services.credit_batches import credit_batch_apply_job

__all__ = ["credit_batch_apply_job"]
