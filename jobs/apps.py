from django.apps import AppConfig


class JobsConfig(AppConfig):
    name = "jobs"
    verbose_name = "Jobs"

    def ready(self) -> None:
        from jobs.services.imports import FORMATS, jobs_upload
        from jobs.services.records import UPLOAD_HANDLERS, UploadHandler

        UPLOAD_HANDLERS["jobs"] = UploadHandler(
            FORMATS, jobs_upload, ("jobs.add_job", "jobs.change_job"), managers=True
        )
