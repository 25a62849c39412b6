"""Team budgets with where they stand: members read, managers of the team and staff write."""

from django.utils import timezone
from rest_framework import viewsets

from costs.budgets.api.permissions import BudgetPermission
from costs.budgets.api.serializers import BudgetSerializer
from costs.budgets.models import Budget
from costs.budgets.selectors import budget_statuses
from teams.api.permissions import TeamScopedMixin


class BudgetViewSet(TeamScopedMixin, viewsets.ModelViewSet):
    """Team budgets with spend to date, month/quarter-end projection and status."""

    serializer_class = BudgetSerializer
    permission_classes = [BudgetPermission]
    queryset = Budget.objects.select_related("team").order_by("team__name", "period")
    filterset_fields = ["team", "period", "active"]

    def get_serializer_context(self):
        context = super().get_serializer_context()
        if getattr(self, "swagger_fake_view", False) or not self.request.user.is_authenticated:
            return context
        statuses = budget_statuses(budgets=self.get_queryset(), as_of=timezone.now().date())
        return {**context, "statuses": {status.budget.pk: status for status in statuses}}
