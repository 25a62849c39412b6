"""Who sees and writes what through the API: team scoping and the role permissions every viewset uses."""

from django.db.models import QuerySet
from rest_framework import permissions
from rest_framework.generics import GenericAPIView

from heliox.permissions import permission_for, staff_can
from teams.models import Membership
from teams.selectors import member_team_ids


class TeamScopedMixin(GenericAPIView):
    """Scopes every queryset to the user's teams; the one place where that rule lives.

    `team_field` is the lookup from the model to its team ("team", or "pk" for Team
    itself). None means the data is not a team's (the price catalog): everyone
    authenticated reads it. `staff_only` hides the data from everyone without the view
    permission (the organisation's bill). Staff with the model's view permission see every
    team's rows; another team's object is otherwise simply not found: 404.
    """

    team_field: str | None = "team"
    staff_only: bool = False

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        user = self.request.user
        if not user.is_authenticated:  # schema generation; requests are refused before this
            return queryset.none()
        if staff_can(user, "view", queryset.model):
            return queryset
        if self.staff_only:
            return queryset.none()
        if self.team_field is None:
            return queryset
        return queryset.filter(**{f"{self.team_field}__in": member_team_ids(user)})


class StaffWritePermission(permissions.BasePermission):
    """Anyone authenticated reads (what their scope shows); staff write with the model's add/change/delete perm."""

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated) and (
            request.method in permissions.SAFE_METHODS
            or staff_can(request.user, permission_for(request, view), view.queryset.model)
        )


class TeamRolePermission(permissions.BasePermission):
    """Staff with the model permission: any team. Others by their role in the object's team.

    Members may do `member_actions` (jobs: create, finish: a scheduler's account); managers
    every write. Reads are scoped by TeamScopedMixin.
    """

    member_actions: tuple[str, ...] = ()

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS or self._staff(request, view):
            return True
        if view.action in self.member_actions:
            return bool(member_team_ids(request.user))
        return bool(member_team_ids(request.user, Membership.Role.MANAGER))

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in permissions.SAFE_METHODS or self._staff(request, view):
            return True
        if view.action in self.member_actions:
            return obj.team_id in member_team_ids(request.user)
        return obj.team_id in member_team_ids(request.user, Membership.Role.MANAGER)

    def _staff(self, request, view) -> bool:
        return staff_can(request.user, permission_for(request, view), view.queryset.model)
