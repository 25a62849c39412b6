from django.db.models import Prefetch
from rest_framework import viewsets

from teams.api.permissions import StaffWritePermission, TeamScopedMixin
from teams.api.serializers import TeamSerializer
from teams.models import Membership, Team


class TeamViewSet(TeamScopedMixin, viewsets.ModelViewSet):
    """Teams with their members. Non-staff see their own teams; staff create and edit them."""

    team_field = "pk"
    serializer_class = TeamSerializer
    permission_classes = [StaffWritePermission]
    queryset = Team.objects.prefetch_related(
        Prefetch("memberships", queryset=Membership.objects.select_related("user").order_by("user__username"))
    ).order_by("name")
    filterset_fields = ["name"]
