import django_filters

from heliox.api import FilterSet, UTCDateTimeFilter
from jobs.models import Job


class JobFilter(FilterSet):
    started_after = UTCDateTimeFilter(field_name="start_time", lookup_expr="gte")
    started_before = UTCDateTimeFilter(field_name="start_time", lookup_expr="lt")
    running = django_filters.BooleanFilter(field_name="end_time", lookup_expr="isnull", label="Still running")

    class Meta:
        model = Job
        fields = ["team", "status", "provider", "gpu_type", "model_name", "pricing", "external_id"]
