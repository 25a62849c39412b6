from datetime import UTC, datetime
from decimal import Decimal

from django.db import IntegrityError, transaction
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from heliox.api import DECIMAL_STRING_OR_NULL, ModelSerializer
from heliox.permissions import staff_can
from jobs.labels import label_problem
from jobs.models import GPU_MEM_MAX_GIB, UTIL_MAX, Job, JobStatus, UtilSource
from jobs.selectors import external_id_taken
from jobs.times import job_times_problem
from teams.models import Team
from teams.selectors import member_team_ids

# (provider, external_id) is unique across the organisation, so a clash may be with another
# team's job: the answer is the same whoever owns it and names nothing about that job.
EXTERNAL_ID_TAKEN = (
    "This provider already has a job with this external_id. Scheduler ids must be unique per provider: "
    "use another external_id, or leave it empty."
)

END_BEFORE_START = "Must not be before start_time."


def status_time_problem(status: str, start: datetime | None, end: datetime | None) -> tuple[str, str] | None:
    """(field, why) when the status contradicts the times, as the Slurm import reads them: a pending or running job
    has not ended; a finished job that started has an end (one cancelled before it started has neither)."""
    if status in (JobStatus.PENDING, JobStatus.RUNNING) and end is not None:
        return (
            "end_time",
            f"A {status} job has not ended: leave end_time empty, or choose succeeded, failed or cancelled.",
        )
    if status in Job.FINAL_STATUSES and start is not None and end is None:
        return "end_time", f"Required when status is {status} (a job that started and finished has an end)."
    return None


def iso(moment) -> str | None:
    """ISO 8601 in UTC with a Z, as DRF's DateTimeField writes it."""
    if moment is None:
        return None
    text = moment.isoformat()  # the database hands back UTC already
    if text.endswith("+00:00"):
        return text[:-6] + "Z"
    return moment.astimezone(UTC).isoformat()[:-6] + "Z"


def decimal_or_none(value) -> str | None:
    return None if value is None else str(value)


def _total(digits: int, places: int) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=digits, decimal_places=places, read_only=True, allow_null=True)


class JobSerializer(ModelSerializer):
    """A GPU job. `team` is the team's id; non-staff may only name their own teams.

    `estimated_usd`, `allocated_usd`, `unpriced_gpu_hours`, `used_gpu_hours`, `waste_usd` and
    `allocated_waste_usd` are the job's totals over the rolled-up days (null until rolled up; the USD
    figures null when no hour is priced; used and the wastes null when the job is unmeasured).
    """

    team = serializers.PrimaryKeyRelatedField(queryset=Team.objects.all())
    team_name = serializers.CharField(source="team.name", read_only=True)
    gpu_hours = serializers.SerializerMethodField(help_text="GPU-hours so far (to now while running).")
    gpu_util_avg = serializers.DecimalField(
        max_digits=5, decimal_places=2, min_value=Decimal(0), max_value=UTIL_MAX, allow_null=True, required=False,
        help_text="Time-weighted average GPU utilisation, 0-100 %; null = unmeasured.",
    )  # fmt: skip
    gpu_util_source = serializers.CharField(
        read_only=True, help_text="Where the utilisation came from: import, api, slurm, dcgm; '' when unmeasured."
    )
    gpu_mem_peak_gib = serializers.DecimalField(
        max_digits=9, decimal_places=3, min_value=Decimal(0), max_value=GPU_MEM_MAX_GIB, allow_null=True,
        required=False, help_text="Peak GPU memory on one GPU, GiB; null when not measured.",
    )  # fmt: skip

    # The job's totals (jobs.totals.JobTotals, read through the job): declared, as they are no model fields.
    estimated_usd = _total(12, 2)
    allocated_usd = _total(12, 2)
    unpriced_gpu_hours = _total(14, 4)
    used_gpu_hours = _total(14, 4)
    waste_usd = _total(12, 2)
    allocated_waste_usd = _total(12, 2)

    class Meta:
        model = Job
        fields = [
            "id", "team", "team_name", "model_name", "provider", "gpu_type", "gpu_count", "region", "pricing",
            "start_time", "end_time", "status", "external_id", "metadata", "labels", "gpu_hours", "estimated_usd",
            "allocated_usd", "unpriced_gpu_hours", "used_gpu_hours", "waste_usd", "allocated_waste_usd", "gpu_util_avg",
            "gpu_mem_peak_gib", "gpu_util_source", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = ["id", "created_at", "updated_at", "estimated_usd", "allocated_usd", "unpriced_gpu_hours",
                            "used_gpu_hours", "waste_usd", "allocated_waste_usd", "gpu_util_source"]  # fmt: skip
        # DRF's unique-together validator is replaced by the check in validate(), which says less.
        validators: list = []

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        writes_any_team = request and staff_can(request.user, "change" if self.instance else "add", Job)
        if request and request.user.is_authenticated and not writes_any_team:
            fields["team"].queryset = Team.objects.filter(pk__in=member_team_ids(request.user))
        return fields

    @extend_schema_field(DECIMAL_STRING_OR_NULL)
    def get_gpu_hours(self, job: Job) -> str | None:
        """A decimal string like every other figure (the JSON encoder would turn a Decimal into a float)."""
        hours = job.held_gpu_hours(now=self.context.get("now"))
        return None if hours is None else str(hours)

    def to_representation(self, job: Job) -> dict:
        """Hand-written for speed (DRF's per-field machinery costs ~5x a dict); same output as the fields."""
        return {
            "id": str(job.pk),
            "team": str(job.team_id),
            "team_name": job.team.name,
            "model_name": job.model_name,
            "provider": job.provider,
            "gpu_type": job.gpu_type,
            "gpu_count": job.gpu_count,
            "region": job.region,
            "pricing": job.pricing,
            "start_time": iso(job.start_time),
            "end_time": iso(job.end_time),
            "status": job.status,
            "external_id": job.external_id,
            "metadata": job.metadata,
            "labels": job.labels,
            "gpu_hours": self.get_gpu_hours(job),
            "estimated_usd": decimal_or_none(job.estimated_usd),
            "allocated_usd": decimal_or_none(job.allocated_usd),
            "unpriced_gpu_hours": decimal_or_none(job.unpriced_gpu_hours),
            "used_gpu_hours": decimal_or_none(job.used_gpu_hours),
            "waste_usd": decimal_or_none(job.waste_usd),
            "allocated_waste_usd": decimal_or_none(job.allocated_waste_usd),
            "gpu_util_avg": None if job.gpu_util_avg is None else str(job.gpu_util_avg),
            "gpu_mem_peak_gib": None if job.gpu_mem_peak_gib is None else str(job.gpu_mem_peak_gib),
            "gpu_util_source": job.gpu_util_source,
            "created_at": iso(job.created_at),
            "updated_at": iso(job.updated_at),
        }

    def validate_labels(self, labels: object) -> dict:
        found = label_problem(labels)
        if found:
            raise serializers.ValidationError(f"{found[0]}: {found[1]}")
        return labels  # type: ignore[return-value]  # a dict, as label_problem checked

    def validate(self, attrs: dict) -> dict:
        start: datetime | None = attrs.get("start_time", getattr(self.instance, "start_time", None))
        end: datetime | None = attrs.get("end_time", getattr(self.instance, "end_time", None))
        problem = job_times_problem(attrs.get("start_time"), attrs.get("end_time"))  # the times written
        if problem:
            raise serializers.ValidationError({problem[0]: problem[1]})
        if start and end and end.replace(microsecond=0) < start.replace(microsecond=0):
            raise serializers.ValidationError({"end_time": END_BEFORE_START})
        if end and not start:
            raise serializers.ValidationError({"start_time": "Required when end_time is set."})
        status = attrs.get("status", getattr(self.instance, "status", None))  # None: created with the default
        if (
            status
            and {"status", "start_time", "end_time"} & attrs.keys()
            and (found := status_time_problem(status, start, end))
        ):
            raise serializers.ValidationError({found[0]: found[1]})
        provider: str = attrs.get("provider", getattr(self.instance, "provider", ""))
        external_id = attrs.get("external_id", getattr(self.instance, "external_id", None))
        if external_id_taken(provider=provider, external_id=external_id, exclude_pk=getattr(self.instance, "pk", None)):
            raise serializers.ValidationError({"external_id": EXTERNAL_ID_TAKEN})
        if "gpu_util_avg" in attrs or "gpu_mem_peak_gib" in attrs:  # figures sent here come from the API
            util = attrs.get("gpu_util_avg", getattr(self.instance, "gpu_util_avg", None))
            mem = attrs.get("gpu_mem_peak_gib", getattr(self.instance, "gpu_mem_peak_gib", None))
            attrs["gpu_util_source"] = UtilSource.API if util is not None or mem is not None else ""
        return attrs

    def save(self, **kwargs) -> Job:
        """A job that takes the same (provider, external_id) at the same moment: the same 400, not a 500."""
        try:
            with transaction.atomic():
                return super().save(**kwargs)
        except IntegrityError:
            job = self.instance or Job(**self.validated_data)
            if external_id_taken(provider=job.provider, external_id=job.external_id or None, exclude_pk=job.pk):
                raise serializers.ValidationError({"external_id": [EXTERNAL_ID_TAKEN]}) from None
            raise


class FinishSerializer(serializers.Serializer):
    """Body of POST /jobs/{id}/finish/: when the job ended (default now) and how. jobs.services.lifecycle judges
    whether the job may finish so (started, not ended, the end after the start), for the API and the admin alike."""

    end_time = serializers.DateTimeField(required=False)
    status = serializers.ChoiceField(
        choices=[(s.value, s.label) for s in Job.FINAL_STATUSES], default=JobStatus.SUCCEEDED
    )
