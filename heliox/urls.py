"""Root URL configuration."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from heliox.health import healthz, readyz
from heliox.views import api_not_found, favicon

urlpatterns = [
    path("favicon.ico", favicon),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("health/", readyz, name="health"),  # the old name of /readyz, for existing probes
    path("admin/", admin.site.urls),
    path("api/v1/", include("heliox.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script as a file (?script), for the Content-Security-Policy.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),  # what no endpoint above serves
    path("", include("web.urls")),  # the member UI (login, dashboard, teams, jobs, budgets, tokens)
]
