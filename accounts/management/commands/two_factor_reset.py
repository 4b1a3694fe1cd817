"""Remove a staff member's authenticator app and recovery codes (a lost phone), so that their next
login sets up a new app. An Administrator runs it after checking who is asking; it is audited."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import User
from accounts.two_factor import two_factor_reset


class Command(BaseCommand):
    help = "Remove a staff member's two-factor devices: their next login sets up a new authenticator app."

    def add_arguments(self, parser) -> None:
        parser.add_argument("email", help="The staff member's email address.")

    def handle(self, *args, email: str, **options) -> None:
        user = User.objects.filter(email__iexact=email.strip(), is_staff=True).first()
        if user is None:
            raise CommandError(f"No staff member has the email {email!r}.")
        removed = two_factor_reset(user=user, actor_label="Command line")
        self.stdout.write(f"Removed {removed} two-factor device(s); the next login sets up a new authenticator app.")
