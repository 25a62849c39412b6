"""Reads about teams: whose teams a user belongs to, and what spend a user may see."""

from heliox.permissions import sees_organisation_spend
from teams.models import Membership


def member_team_ids(user, role: str | None = None) -> list:
    """Ids of the teams `user` belongs to (with `role`, when given)."""
    memberships = Membership.objects.filter(user=user)
    if role:
        memberships = memberships.filter(role=role)
    return list(memberships.values_list("team_id", flat=True))


def team_scope(user) -> list | None:
    """None (everything) for staff who may view the organisation's spend; otherwise the user's teams."""
    return None if sees_organisation_spend(user) else member_team_ids(user)
