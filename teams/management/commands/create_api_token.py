from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from heliox.commands import HelioxCommand
from teams.services import MAX_TOKEN_DAYS, api_token_create


class Command(HelioxCommand):
    help = "Create an API token for a user and print it once (only its hash is stored)."

    def add_arguments(self, parser):
        parser.add_argument("username", help="The user the token acts as.")
        parser.add_argument("--expires", type=int, default=90, metavar="DAYS", help="Days until it expires (0: never).")

    def handle(self, *args, username: str, expires: int, **options):
        if not 0 <= expires <= MAX_TOKEN_DAYS:
            raise CommandError(f"--expires must be 0 (never) or 1 to {MAX_TOKEN_DAYS} days, got {expires}")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive.")
        instance, token = api_token_create(user=user, days=expires)
        when = f"expires {instance.expiry:%Y-%m-%d %H:%M} UTC" if instance.expiry else "never expires"
        if self.verbosity >= 1:
            self.stderr.write(f"Token for {username} ({when}); it is shown once, keep it secret:")
        self.stdout.write(token)  # what was asked for: printed at every verbosity
