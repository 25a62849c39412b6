"""Teams and who belongs to them."""

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from heliox.models import BaseModel
from heliox.validation import validate_name


class Team(BaseModel):
    """A group of people whose GPU spend is tracked and budgeted together."""

    name = models.CharField(
        max_length=100, unique=True, validators=[validate_name],
        db_comment="Team name, unique across the organisation; no control character.",
    )  # fmt: skip
    description = models.TextField(blank=True, default="", db_comment="Free text: what the team works on.")
    members: models.ManyToManyField = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Membership", related_name="teams", blank=True
    )

    history = HistoricalRecords()  # the audit trail: who changed what, when (README: Audit trail)

    class Meta:
        ordering = ["name"]
        db_table_comment = "Teams: the unit of cost allocation and budgets."

    def __str__(self) -> str:
        return self.name


class MembershipRole(models.TextChoices):
    """What a member may do in a team."""

    MEMBER = "member", "Member"
    MANAGER = "manager", "Manager"


class Membership(BaseModel):
    """A user's membership of a team, with the role that decides what they may do."""

    Role = MembershipRole

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="memberships",
        db_comment="The member.",
    )
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships", db_comment="The team.")
    role = models.CharField(
        max_length=16,
        choices=Role.choices,
        default=Role.MEMBER,
        db_comment="member: reads and registers jobs; manager: also edits and deletes them.",
    )

    history = HistoricalRecords()  # the audit trail: who changed what, when (README: Audit trail)

    class Meta:
        ordering = ["team__name", "user__username"]
        db_table_comment = "Which users belong to which team, and in what role."
        constraints = [
            models.UniqueConstraint(fields=["user", "team"], name="teams_membership_unique_user_team"),
            models.CheckConstraint(
                condition=models.Q(role__in=MembershipRole.values), name="teams_membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"
