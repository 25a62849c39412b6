"""What a user may see and write in the member UI: the same rules as the API (teams.api.permissions).

Spend (the dashboard, team and model pages, their CSV and chart data) follows
teams.selectors.team_scope: staff who may view the organisation's spend see every team,
everyone else their own teams. Jobs and budgets follow the model's view permission, as the
API's TeamScopedMixin does. Writes follow TeamRolePermission: staff with the change
permission write any team's rows, managers their own teams'.
"""

from uuid import UUID

from django.db.models import Model, QuerySet
from knox.models import AuthToken

from costs.budgets.models import Budget
from heliox.permissions import staff_can
from jobs.models import Job
from teams.models import Membership, Team
from teams.selectors import member_team_ids, team_scope


def visible_team(*, user, pk: UUID) -> Team | None:
    """The team if the user may see its spend (None otherwise: the page is a 404)."""
    scope = team_scope(user)
    if scope is not None and pk not in scope:
        return None
    return Team.objects.filter(pk=pk).first()


def spend_teams(*, user) -> list[tuple[UUID, str]]:
    """(id, name) of the teams whose spend the user sees (every team for the organisation's view), by name."""
    scope = team_scope(user)
    teams = Team.objects.all() if scope is None else Team.objects.filter(pk__in=scope)
    return list(teams.order_by("name").values_list("id", "name"))


def _scoped(user, queryset: QuerySet) -> QuerySet:
    if staff_can(user, "view", queryset.model):
        return queryset
    return queryset.filter(team__in=member_team_ids(user))


def visible_jobs(*, user) -> QuerySet:
    """Jobs of the user's teams (every job for staff who may view jobs), with their team and totals."""
    return _scoped(user, Job.objects.select_related("team", "totals"))


def visible_budgets(*, user) -> QuerySet:
    """Budgets of the user's teams (every budget for staff who may view budgets), by team and period."""
    return _scoped(user, Budget.objects.select_related("team").order_by("team__name", "period"))


def may_change(*, user, obj: Model) -> bool:
    """Staff with the change permission on the model, or a manager of the object's team."""
    if staff_can(user, "change", type(obj)):
        return True
    return obj.team_id in member_team_ids(user, Membership.Role.MANAGER)  # type: ignore[attr-defined]


def managed_team_ids(*, user, model: type[Model]) -> set | None:
    """The teams whose rows of `model` the user may change: None for all (staff with the permission)."""
    if staff_can(user, "change", model):
        return None
    return set(member_team_ids(user, Membership.Role.MANAGER))


def user_tokens(*, user) -> QuerySet:
    """The user's own API tokens, newest first (the key prefix names one; the token itself is never stored)."""
    return AuthToken.objects.filter(user=user).order_by("-created")


def job_history(*, job: Job, limit: int) -> list[tuple]:
    """The job's latest `limit` history rows (newest first), each with the fields it changed ("field: old -> new").

    One query: a row is compared with the one fetched after it, not with a query of its own.
    """
    rows = list(job.history.select_related("history_user").order_by("-history_date")[: limit + 1])  # type: ignore[attr-defined]
    return [(row, _changed(row, older)) for row, older in zip(rows, [*rows[1:], None], strict=False)][:limit]


def _changed(row, older) -> list[str]:
    if older is None:
        return []
    return [f"{change.field}: {change.old} -> {change.new}" for change in row.diff_against(older).changes]
