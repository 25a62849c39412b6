"""The admin site: its index is the spend dashboard, with a team page and CSV exports (costs.dashboard)."""

from django.contrib import admin
from django.urls import path

from costs.dashboard import views as dashboard


class HelioxAdminSite(admin.AdminSite):
    site_header = "Heliox"
    site_title = "Heliox"
    index_title = "GPU spend"

    def get_urls(self):
        return [
            path("dashboard/export/<slug:table>.csv", self.admin_view(dashboard.export_view), name="dashboard_export"),
            path("dashboard/team/<uuid:pk>/", self.admin_view(self.team_view), name="team_dashboard"),
            *super().get_urls(),
        ]

    def index(self, request, extra_context=None):
        return super().index(request, extra_context={**dashboard.index_context(request), **(extra_context or {})})

    def team_view(self, request, pk):
        return dashboard.team_view(self, request, pk)
