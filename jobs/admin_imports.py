"""The import log in the admin: read-only, with an upload form that queues the same import services as the commands.

An upload answers at once: the file is stored and its import queued (jobs.services.uploads);
the page of the import's record then follows it (queued, running with rows read and percent,
succeeded or failed) by polling a small JSON status URL from a static script (the CSP forbids
inline scripts).
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from heliox.errors import InputError
from jobs.models import ImportRecord
from jobs.selectors import import_status
from jobs.services.records import UPLOAD_HANDLERS
from jobs.services.uploads import import_enqueue


class ImportUploadForm(forms.Form):
    kind = forms.ChoiceField(
        choices=ImportRecord.Kind.choices, help_text="Jobs (CSV, JSON, sacct), billing (FOCUS) or LLM calls (JSONL)."
    )
    format = forms.ChoiceField(choices=[(f, f) for f in ("csv", "json", "sacct", "focus", "jsonl")])
    file = forms.FileField(help_text="Plain or gzip-compressed.")
    gpu_type = forms.CharField(required=False, help_text="sacct: GPU type when AllocTRES has gres/gpu=N untyped.")
    create_teams = forms.BooleanField(
        required=False,
        label="Create missing teams",
        help_text="Jobs: create the teams the file names that do not exist. Off, such a file is refused and the "
        "error names every unknown team (a typo'd name does not become a new team).",
    )
    replace = forms.BooleanField(required=False, help_text="Billing: replace the bill of the days it covers.")
    dry_run = forms.BooleanField(required=False, help_text="Validate and report; write nothing.")

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean(self):
        data = super().clean()
        handler = UPLOAD_HANDLERS.get(data.get("kind"))
        if handler is None and data.get("kind"):  # a kind of record no upload makes (prometheus)
            self.add_error("kind", f"Uploads take {', '.join(sorted(UPLOAD_HANDLERS))}.")
        if handler and data.get("format") not in handler.formats:
            self.add_error("format", f"A {data['kind']} import takes {', '.join(handler.formats)}.")
        needed = handler.needed(replace=bool(data.get("replace"))) if handler else ()
        if not self.user.has_perms(needed):  # staff power follows model permissions, as everywhere
            label = str(ImportRecord.Kind(data["kind"]).label)
            kind = label if label[:2].isupper() else label.lower()  # "LLM calls", "billing"
            plural = "permission" if len(needed) == 1 else "permissions"
            self.add_error("kind", f"You may not import {kind} files: that needs the {plural} {', '.join(needed)}.")
        return data

    def parameters(self) -> dict:
        data = self.cleaned_data
        return {"format": data["format"], "gpu_type": data["gpu_type"], "create_teams": data["create_teams"],
                "replace": data["replace"], "dry_run": data["dry_run"]}  # fmt: skip


@admin.register(ImportRecord)
class ImportRecordAdmin(admin.ModelAdmin):
    """The import log, read-only; uploads are queued and their page follows them."""

    list_display = ["created_at", "kind", "file_name", "format", "status", "rows_read", "rows_kept", "rows_skipped",
                    "duration_ms", "run_by"]  # fmt: skip
    list_filter = ["kind", "status", "format"]
    search_fields = ["file_name", "sha256", "run_by"]
    list_select_related = ["uploaded_by"]
    readonly_fields = [field.name for field in ImportRecord._meta.fields]
    change_list_template = "admin/jobs/importrecord/change_list.html"
    change_form_template = "admin/jobs/importrecord/change_form.html"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        upload = path("upload/", self.admin_site.admin_view(self.upload_view), name="jobs_importrecord_upload")
        status = path(
            "<uuid:pk>/status.json", self.admin_site.admin_view(self.status_view), name="jobs_importrecord_status"
        )
        return [upload, status, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        status_url = reverse("admin:jobs_importrecord_status", args=[object_id])
        return super().change_view(request, object_id, form_url, {**(extra_context or {}), "status_url": status_url})

    def status_view(self, request, pk):
        """The record's status as JSON, for the page's poll."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        record = ImportRecord.objects.filter(pk=pk).first()
        if record is None:
            raise Http404("no such import")
        return JsonResponse(import_status(record))

    def upload_view(self, request):
        if not any(request.user.has_perms(handler.permissions) for handler in UPLOAD_HANDLERS.values()):
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None, user=request.user)
        if request.method == "POST" and form.is_valid():
            try:
                record = import_enqueue(
                    file=form.cleaned_data["file"], kind=form.cleaned_data["kind"], parameters=form.parameters(),
                    run_by=request.user.get_username(), user=request.user,
                )  # fmt: skip
            except InputError as error:
                form.add_error(error.field if error.field in form.fields else None, error.message)
            else:
                self._say_where(request, record)
                return redirect("admin:jobs_importrecord_change", record.pk)
        context = {**self.admin_site.each_context(request), "form": form, "title": "Upload a jobs or billing file",
                   "opts": self.model._meta}  # fmt: skip
        return TemplateResponse(request, "admin/jobs/importrecord/upload.html", context)

    def _say_where(self, request, record: ImportRecord) -> None:
        if record.status == ImportRecord.Status.FAILED:
            self.message_user(request, f"Import failed, nothing written: {record.error}", messages.ERROR)
        elif record.finished:
            self.message_user(request, record.summary, messages.SUCCESS)
        else:
            self.message_user(
                request, f"Queued the import of {record.file_name}: this page follows it.", messages.SUCCESS
            )
