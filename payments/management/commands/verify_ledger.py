from django.core.management.base import BaseCommand, CommandError

from payments.selectors import ledger_verify


class Command(BaseCommand):
    help = "Check that every user's credits equal the sum of their ledger entries and are never negative."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--show", type=int, default=100, help="List at most this many mismatches (default 100).")

    def handle(self, *args, show: int, **options) -> None:
        report = ledger_verify(show=max(show, 0))
        for bad in report.mismatches:
            self.stdout.write(
                f"user {bad.user_id}: balance {bad.balance}, ledger sum {bad.ledger_sum}, "
                f"latest balance_after {bad.last_balance_after}"
            )
        summary = f"Checked {report.users:,} users and {report.entries:,} ledger entries"
        if report.mismatch_count:
            raise CommandError(f"{summary}: {report.mismatch_count:,} users do not match their ledger.")
        self.stdout.write(self.style.SUCCESS(f"{summary}: every balance matches its ledger."))
