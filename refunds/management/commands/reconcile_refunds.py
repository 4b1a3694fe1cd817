from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand

from refunds.services import refunds_reconcile


class Command(BaseCommand):
    help = (
        "Ask the payment gateway again about refunds still pending after RECONCILE_AFTER_SECONDS, and record "
        "what it says. The periodic refunds.reconcile job does the same every few minutes."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=None,
            metavar="SECONDS",
            help=f"Only refunds made at least this long ago (default {settings.RECONCILE_AFTER_SECONDS}).",
        )

    def handle(self, *args, older_than: int | None, **options) -> None:
        results = refunds_reconcile(older_than=timedelta(seconds=older_than) if older_than is not None else None)
        for result in results:
            note = f" ({result.note})" if result.note else ""
            if result.changed:
                self.stdout.write(f"Refund {result.refund_id}: {result.before} → {result.after}{note}")
            else:
                self.stdout.write(f"Refund {result.refund_id}: still {result.after}{note}")
        settled = sum(result.changed for result in results)
        waiting = len(results) - settled
        summary = f"Settled {settled} refund{'s' if settled != 1 else ''}; {waiting} still unsettled."
        self.stdout.write(self.style.SUCCESS(summary) if not waiting else self.style.WARNING(summary))
