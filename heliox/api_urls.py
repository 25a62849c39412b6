"""/api/v1/: the REST API."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from knox import views as knox_views
from rest_framework.routers import DefaultRouter

from costs.billing.api.views import CostSnapshotViewSet
from costs.budgets.api.views import BudgetViewSet
from costs.catalog.api.views import GpuPriceViewSet, InstanceTypeViewSet
from costs.llm.api.views import LlmCallViewSet
from costs.usage.api.job_views import JobCostsView, TopJobsView
from costs.usage.api.views import (
    AllocationView,
    CostSummaryView,
    CostTimeseriesView,
    TeamSpendView,
    UsageSnapshotViewSet,
)
from jobs.api.imports import ImportViewSet
from jobs.api.views import JobViewSet
from teams.api.views import TeamViewSet

# knox's views declare no serializer; tell the schema what they take and give.
revoke = extend_schema(request=None, responses={204: None}, summary="Revoke the token used (or all of the user's)")
LogoutView = revoke(type("LogoutView", (knox_views.LogoutView,), {}))
LogoutAllView = revoke(type("LogoutAllView", (knox_views.LogoutAllView,), {}))

router = DefaultRouter()
router.register("teams", TeamViewSet, basename="team")
router.register("jobs", JobViewSet, basename="job")
router.register("prices", GpuPriceViewSet, basename="price")
router.register("instance-types", InstanceTypeViewSet, basename="instance-type")
router.register("cost-snapshots", CostSnapshotViewSet, basename="cost-snapshot")
router.register("usage-snapshots", UsageSnapshotViewSet, basename="usage-snapshot")
router.register("budgets", BudgetViewSet, basename="budget")
router.register("llm-calls", LlmCallViewSet, basename="llm-call")
router.register("imports", ImportViewSet, basename="import")

urlpatterns = [
    path("costs/summary", CostSummaryView.as_view(), name="costs-summary"),
    path("costs/timeseries", CostTimeseriesView.as_view(), name="costs-timeseries"),
    path("costs/top-jobs", TopJobsView.as_view(), name="costs-top-jobs"),
    path("jobs/<uuid:pk>/costs/", JobCostsView.as_view(), name="job-costs"),
    path("allocation", AllocationView.as_view(), name="allocation"),
    path("teams/<uuid:pk>/spend", TeamSpendView.as_view(), name="team-spend"),
    path("auth/logout", LogoutView.as_view(), name="knox-logout"),
    path("auth/logout-all", LogoutAllView.as_view(), name="knox-logout-all"),
    *router.urls,
]
