"""Saved views: a user's named links to a spend page as they set it up (range, step, idle mode, currency, filters)."""

from django.conf import settings
from django.db import models
from django.urls import reverse

from heliox.models import BaseModel


class SavedView(BaseModel):
    """One user's named view of the staff dashboard or the member home; only its owner sees it.

    The view is the page plus its query string, kept in costs.dashboard.viewstate's order, so reopening it
    shows the same figures (a preset range such as "last-30" moves with the day it is opened; start/end do not).
    """

    class Page(models.TextChoices):
        DASHBOARD = "dashboard", "Staff dashboard"
        HOME = "home", "Member home"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views", db_comment="Owner."
    )
    name = models.CharField(max_length=100, db_comment="The owner's name for the view.")
    page = models.CharField(max_length=16, choices=Page.choices, db_comment="The page the view opens.")
    query = models.CharField(max_length=2000, blank=True, db_comment="The page's query string (no leading ?).")

    class Meta:
        ordering = ["name"]
        db_table_comment = "Users' saved views of the spend pages."
        constraints = [
            # One name per user: saving under a name again replaces that view.
            models.UniqueConstraint(fields=["user", "name"], name="costs_savedview_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.name}"

    def get_absolute_url(self) -> str:
        """The page with the view's query: always one of Heliox's own pages (never a stored address)."""
        path = reverse("admin:index") if self.page == self.Page.DASHBOARD else reverse("web:home")
        return f"{path}?{self.query}" if self.query else path
