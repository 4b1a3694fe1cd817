from django.core.management.base import BaseCommand, CommandError

from books.checks import books_verify
from books.services import books_check_record


class Command(BaseCommand):
    help = "Check the books: every invariant of the money system, over every row. Exits non-zero on any offender."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--show", type=int, default=100, help="List at most this many offenders per rule.")
        parser.add_argument("--record", action="store_true", help="Keep the result for the Books page.")

    def handle(self, *args, show: int, record: bool, **options) -> None:
        report = books_verify(show=max(show, 0))
        if record:
            books_check_record(report=report)
        for result in report.results:
            mark = "ok" if not result.offender_count else f"{result.offender_count:,} offenders"
            self.stdout.write(f"{result.rule}: {mark} ({result.says})")
        for offender in report.offenders:
            self.stdout.write(f"  {offender.rule}: {offender.object} {offender.id}: {offender.detail}")
        counts = ", ".join(f"{number:,} {name}" for name, number in report.counts.items())
        summary = f"Checked {counts} in {report.seconds:.1f} s"
        if report.offender_count:
            raise CommandError(f"{summary}: {report.offender_count:,} offenders break the rules above.")
        self.stdout.write(self.style.SUCCESS(f"{summary}: every rule holds."))
