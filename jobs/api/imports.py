"""/api/v1/imports/: upload a file to import (202, queued), then follow its import record.

Who may upload: staff with the permission to add jobs (as in the admin's upload form), any
kind and any team; a team manager, jobs or LLM calls of the teams they manage only (their
file may name no other team, creates no team, and imports no bill). Members may not.
A record is seen by staff who may view the import log, and by the user who uploaded it.
"""

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, parsers, serializers, status, viewsets
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from heliox.errors import InputError
from heliox.permissions import staff_can
from jobs.models import ImportRecord, Job
from jobs.selectors import import_status
from jobs.services.records import UPLOAD_HANDLERS
from jobs.services.uploads import import_enqueue
from teams.models import Membership
from teams.selectors import member_team_ids

FORMATS = ("csv", "json", "sacct", "focus", "jsonl")


class ImportStatusSerializer(serializers.Serializer):
    """An import record: where its import is and what it did. `percent` is null while the total is unknown."""

    id = serializers.UUIDField()
    url = serializers.SerializerMethodField()
    kind = serializers.ChoiceField(choices=ImportRecord.Kind.choices)
    format = serializers.CharField()
    file_name = serializers.CharField()
    status = serializers.ChoiceField(choices=ImportRecord.Status.choices)
    finished = serializers.BooleanField()
    rows_read = serializers.IntegerField()
    rows_total = serializers.IntegerField(allow_null=True)
    percent = serializers.FloatField(allow_null=True)
    rows_kept = serializers.IntegerField()
    rows_skipped = serializers.IntegerField()
    totals = serializers.JSONField()
    summary = serializers.CharField()
    error = serializers.CharField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def to_representation(self, instance):
        return {**import_status(instance), "url": self.get_url(instance)}

    def get_url(self, record: ImportRecord) -> str:
        request = self.context.get("request")
        path = f"/api/v1/imports/{record.pk}/"
        return request.build_absolute_uri(path) if request else path


class ImportUploadSerializer(serializers.Serializer):
    """A file to import and how: the import commands' options."""

    file = serializers.FileField(help_text="The file, plain or gzip-compressed.")
    kind = serializers.ChoiceField(choices=ImportRecord.Kind.choices)
    format = serializers.ChoiceField(
        choices=FORMATS, help_text="jobs: csv, json, sacct; billing: focus; llm_calls: jsonl."
    )
    gpu_type = serializers.CharField(required=False, allow_blank=True, max_length=32)
    provider = serializers.CharField(required=False, allow_blank=True, max_length=32)
    team_from = serializers.CharField(required=False, allow_blank=True, max_length=32)
    timezone = serializers.CharField(required=False, allow_blank=True, max_length=64)
    create_teams = serializers.BooleanField(default=False, help_text="Jobs: create teams the file names (staff only).")
    replace = serializers.BooleanField(default=False, help_text="Billing: replace the bill of the days it covers.")
    dry_run = serializers.BooleanField(default=False, help_text="Validate and report; write nothing.")

    def validate(self, data):
        handler = UPLOAD_HANDLERS.get(data["kind"])
        if handler is None:  # a kind of import record no upload makes (prometheus: sync_prometheus writes it)
            raise ValidationError({"kind": [f"Uploads take {', '.join(sorted(UPLOAD_HANDLERS))}."]})
        if data["format"] not in handler.formats:
            raise ValidationError({"format": [f"A {data['kind']} import takes {', '.join(handler.formats)}."]})
        return data

    def validate_timezone(self, value: str) -> str:
        """A time zone the import knows (IANA name), refused here rather than by the queued import."""
        try:
            ZoneInfo(value) if value else None
        except (ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"Unknown time zone {value!r}; use an IANA name such as Europe/Paris.") from None
        return value


def may_upload(user) -> list | None:
    """None for staff who may add jobs (any team), else the teams `user` manages; PermissionDenied for the rest."""
    if staff_can(user, "add", Job):
        return None
    managed = member_team_ids(user, Membership.Role.MANAGER)
    if not managed:
        raise PermissionDenied("Uploading imports takes staff with the permission to add jobs, or a team manager.")
    return managed


def upload_scope(user, *, kind: str, create_teams: bool, replace: bool = False) -> list | None:
    """The teams `user` may import into: None for any (staff who may add jobs), else the teams they manage.

    Staff need the permissions this kind writes with (UploadHandler.needed), as in the admin's
    upload form. Raises PermissionDenied saying why when they may not upload this at all.
    """
    managed = may_upload(user)
    if managed is None:
        needed = UPLOAD_HANDLERS[kind].needed(replace=replace)
        if not user.has_perms(needed):
            raise PermissionDenied(f"A {kind} import needs the permissions {', '.join(needed)}.")
        return None
    if not UPLOAD_HANDLERS[kind].managers:
        raise PermissionDenied(f"A {kind} import is the organisation's: staff only.")
    if create_teams:
        raise PermissionDenied("Managers import into the teams they manage; creating teams is for staff.")
    return [str(pk) for pk in managed]


class ImportViewSet(mixins.CreateModelMixin, mixins.RetrieveModelMixin, mixins.ListModelMixin,
                    viewsets.GenericViewSet):  # fmt: skip
    """Uploads to import: create answers 202 with the queued record; retrieve follows it."""

    queryset = ImportRecord.objects.all()
    serializer_class = ImportStatusSerializer
    parser_classes = [parsers.MultiPartParser]

    def get_queryset(self):
        user = self.request.user
        if not user.is_authenticated:
            return ImportRecord.objects.none()
        if staff_can(user, "view", ImportRecord):
            return ImportRecord.objects.all()
        return ImportRecord.objects.filter(uploaded_by=user)

    @extend_schema(request={"multipart/form-data": ImportUploadSerializer}, responses={202: ImportStatusSerializer})
    def create(self, request, *args, **kwargs):
        """Store the file and queue its import; 202 with the record (GET its `url` to follow it)."""
        may_upload(request.user)
        body = ImportUploadSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = dict(body.validated_data)
        file = data.pop("file")
        kind = data.pop("kind")
        team_ids = upload_scope(request.user, kind=kind, create_teams=data["create_teams"], replace=data["replace"])
        parameters = {**{k: v for k, v in data.items() if v not in ("", None)}, "team_ids": team_ids}
        try:
            record = import_enqueue(
                file=file, kind=kind, parameters=parameters, run_by=request.user.get_username(), user=request.user
            )
        except InputError as error:
            raise ValidationError({error.field or "file": [error.message]}) from None
        return Response(self.get_serializer(record).data, status=status.HTTP_202_ACCEPTED)
