import os
import secrets

from django.contrib.auth import get_user_model

from heliox.commands import HelioxCommand


class Command(HelioxCommand):
    help = "Create the superuser 'admin' when no superuser exists (password from HELIOX_ADMIN_PASSWORD)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin", help="Username of the superuser to create.")

    def handle(self, *args, username: str, **options):
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            self.say("A superuser exists already; log in with it (or `manage.py changepassword`).")
            return
        password = os.environ.get("HELIOX_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        users.create_superuser(username=username, email=f"{username}@localhost", password=password)
        if os.environ.get("HELIOX_ADMIN_PASSWORD"):
            self.say(self.style.SUCCESS(f"Admin login: {username} / (from HELIOX_ADMIN_PASSWORD)"))
        else:  # a generated password is shown once, at every verbosity: nobody could log in without it
            self.stdout.write(self.style.SUCCESS(f"Admin login: {username} / {password}  (shown once; keep it)"))
