import re
from datetime import UTC, datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from books.drift import gateway_drift_check
from books.models import DriftCheck
from books.services import drift_check_record


def _day(option: str, text: str) -> datetime:
    """Midnight UTC of a YYYY-MM-DD day, or a one-line error."""
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            raise ValueError
        return datetime.fromisoformat(text).replace(tzinfo=UTC)
    except ValueError:
        raise CommandError(f"{option} {text!r} is not a day written YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = (
        "Compare the portal's refunds with each payment gateway's list of its refunds, made from --since to "
        "--until. Refunds made at a gateway alone are recorded, as their webhook would have; every other "
        "difference is listed. Exits non-zero when any needs a person."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--since", required=True, metavar="YYYY-MM-DD", help="The first day (UTC).")
        parser.add_argument(
            "--until", metavar="YYYY-MM-DD", help="The day after the last (UTC): not included. Default: now."
        )

    def handle(self, *args, since: str, until: str | None, **options) -> None:
        start = _day("--since", since)
        end = _day("--until", until) if until else timezone.now()
        if start >= end:
            raise CommandError(f"--since {since} must come before --until {until or 'now'}.")
        report = gateway_drift_check(since=start, until=end)
        drift_check_record(report=report)
        self.stdout.write(f"Refunds made from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC")
        for gateway, counts in report.counts.items():
            numbers = ", ".join(f"{number:,} {name}" for name, number in counts.items())
            self.stdout.write(f"{gateway}: {numbers}")
        for exception in report.exceptions:
            what = f"refund {exception.refund_id}" if exception.refund_id else "a refund not here"
            if exception.gateway_refund_id:
                what += f" ({exception.gateway_refund_id})"
            if exception.payment_id:
                what += f" on payment {exception.payment_id}"
            if exception.kind == DriftCheck.Kind.GATEWAY_UNAVAILABLE:
                what = exception.gateway
            label = DriftCheck.Kind(exception.kind).label.lower()
            self.stdout.write(f"  {label}: {what}: {exception.detail}")
        total, for_person = len(report.exceptions), report.needs_person_count
        summary = f"{total:,} exception{'s' if total != 1 else ''}, {for_person:,} for a person"
        if for_person:
            raise CommandError(f"{summary}: see the exceptions above.")
        self.stdout.write(self.style.SUCCESS(f"{summary}."))
