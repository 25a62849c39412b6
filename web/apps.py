from django.apps import AppConfig


class WebConfig(AppConfig):
    """The member UI at `/`: every team member's pages (dashboard, teams, jobs, budgets, API tokens)."""

    name = "web"
    verbose_name = "Member UI"
