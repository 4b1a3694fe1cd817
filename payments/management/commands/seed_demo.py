from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from accounts.demo import FINANCE_EMAIL, STAFF_EMAIL, STAFF_PASSWORD, demo_notes, demo_staff
from accounts.models import User
from payments.demo import demo_customers_insert, demo_disputes


class Command(BaseCommand):
    help = (
        "Create demo customers (Elijah Herrick among them) with payments and the ledger explaining their "
        "credits, and a staff login. Safe to run twice."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--users", type=int, default=2000, help="How many customers (default 2,000).")

    def handle(self, *args, users: int, **options) -> None:
        if not 1 <= users <= 10_000_000:
            raise CommandError("--users must be between 1 and 10,000,000.")
        existing = User.objects.filter(is_staff=False).count()
        if existing >= users:
            self.stdout.write(f"{existing:,} customers already present; nothing to add.")
        else:
            with tqdm(total=users, unit=" users", disable=users < 20_000 or None) as progress:
                created = demo_customers_insert(users, progress=progress)
            self.stdout.write(f"Created {created:,} demo customers.")
        staff, created = demo_staff()
        if notes := demo_notes(author=staff):
            self.stdout.write(f"Added {notes} staff notes.")
        if disputes := demo_disputes():
            self.stdout.write(f"Added {disputes} disputes (one open, one won).")
        if created or staff.check_password(STAFF_PASSWORD):
            self.stdout.write(self.style.SUCCESS(f"Staff login: {STAFF_EMAIL} / {STAFF_PASSWORD}"))
            self.stdout.write(f"  (Administrator; {FINANCE_EMAIL}, same password, is Finance and can approve)")
        else:
            self.stdout.write(f"Staff login: {STAFF_EMAIL} (its password was changed after seeding).")
        self.stdout.write("Bulk credits: docs/sample-credits.csv is a file to try on these customers.")
