import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the superuser 'admin' when no superuser exists (password from HELIOX_ADMIN_PASSWORD)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin", help="Username of the superuser to create.")

    def handle(self, *args, username: str, **options):
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            self.stdout.write("A superuser exists already; log in with it (or `manage.py changepassword`).")
            return
        password = os.environ.get("HELIOX_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        users.create_superuser(username=username, email=f"{username}@localhost", password=password)
        shown = "(from HELIOX_ADMIN_PASSWORD)" if os.environ.get("HELIOX_ADMIN_PASSWORD") else password
        self.stdout.write(self.style.SUCCESS(f"Admin login: {username} / {shown}  (shown once; keep it)"))
