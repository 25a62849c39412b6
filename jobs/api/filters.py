import django_filters
from django.db.models import QuerySet

from heliox.api import FilterSet, UTCDateTimeFilter
from heliox.permissions import staff_can
from jobs.models import Job
from teams.models import Team
from teams.selectors import member_team_ids


def job_teams(request) -> QuerySet:
    """The teams whose jobs the user sees, by name: the team filter's choices (the member UI's dropdown, the
    browsable API's form) name no other team, and another team's id is an invalid choice."""
    user = getattr(request, "user", None)
    if staff_can(user, "view", Job):
        return Team.objects.order_by("name")
    if user is None or not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(pk__in=member_team_ids(user)).order_by("name")


RUNNING = (("true", "Yes"), ("false", "No"))


class JobFilter(FilterSet):
    team = django_filters.ModelChoiceFilter(queryset=job_teams)
    started_after = UTCDateTimeFilter(field_name="start_time", lookup_expr="gte")
    started_before = UTCDateTimeFilter(field_name="start_time", lookup_expr="lt")
    # true or false, and nothing else: django-filter's BooleanFilter reads any other value as "no filter", so a
    # typo ("running=maybe") would answer every job instead of a 400 naming it.
    running = django_filters.ChoiceFilter(choices=RUNNING, method="filter_running", label="Still running",
                                          empty_label="Any")  # fmt: skip

    def filter_running(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(end_time__isnull=value == "true")

    class Meta:
        model = Job
        fields = ["team", "status", "provider", "gpu_type", "model_name", "pricing", "external_id"]
