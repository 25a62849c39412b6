import django_filters

from jobs.models import Job


class JobFilter(django_filters.FilterSet):
    started_after = django_filters.IsoDateTimeFilter(field_name="start_time", lookup_expr="gte")
    started_before = django_filters.IsoDateTimeFilter(field_name="start_time", lookup_expr="lt")
    running = django_filters.BooleanFilter(field_name="end_time", lookup_expr="isnull", label="Still running")

    class Meta:
        model = Job
        fields = ["team", "status", "provider", "gpu_type", "model_name", "pricing", "external_id"]
