from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from heliox.audit import record_deletions
from heliox.errors import InputError
from jobs.api.filters import JobFilter
from jobs.api.pagination import JobPagination
from jobs.api.permissions import JobPermission
from jobs.api.serializers import FinishSerializer, JobSerializer
from jobs.models import Job
from jobs.services.changes import job_days, jobs_changed
from jobs.services.lifecycle import job_finish
from teams.api.permissions import TeamScopedMixin

SORTING = [
    OpenApiParameter("ordering", str, description="Sort by a rolled-up total: -estimated_usd, allocated_usd, "
                     "-gpu_hours, unpriced_gpu_hours... (unknown last); default: newest first by cursor."),
    OpenApiParameter("offset", int, description="With ordering: jobs to skip (at most 100,000)."),
]  # fmt: skip


@extend_schema_view(list=extend_schema(parameters=SORTING))
class JobViewSet(TeamScopedMixin, viewsets.ModelViewSet):
    """GPU jobs of the user's teams. Members register (create, finish) jobs; managers also edit and delete.

    `?ordering=-estimated_usd` (or allocated_usd, gpu_hours, unpriced_gpu_hours, waste_usd, with or without '-')
    sorts by the job's rolled-up totals, unknown last, in pages of `offset`.
    """

    serializer_class = JobSerializer
    permission_classes = [JobPermission]
    queryset = Job.objects.select_related("team", "totals")
    filterset_class = JobFilter
    pagination_class = JobPagination

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "now": timezone.now()}

    # Every write rolls up the days the job covered before and after it (jobs.services.changes).
    def perform_create(self, serializer):
        super().perform_create(serializer)
        jobs_changed(job_days(serializer.instance))

    def perform_update(self, serializer):
        days = job_days(serializer.instance)
        super().perform_update(serializer)
        days.add(serializer.instance.start_time, serializer.instance.end_time)
        jobs_changed(days)

    def perform_destroy(self, instance):
        days = job_days(instance)
        record_deletions([instance])  # bulk deletes are not in the audit trail; a person's are
        super().perform_destroy(instance)
        jobs_changed(days)

    @extend_schema(request=FinishSerializer, responses=JobSerializer)
    @action(detail=True, methods=["post"])
    def finish(self, request, pk=None):
        """Set end_time (default now) and the final status (default succeeded) of a running job."""
        job = self.get_object()
        body = FinishSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            job = job_finish(job=job, **body.validated_data)
        except InputError as error:
            raise ValidationError({error.field: [error.message]}) from None
        return Response(self.get_serializer(job).data)
