from django.apps import AppConfig


class CostsConfig(AppConfig):
    name = "costs"
    verbose_name = "Costs"

    def ready(self) -> None:
        from costs.billing.services.focus import FORMATS, billing_upload
        from jobs.services.records import UPLOAD_HANDLERS, UploadHandler

        UPLOAD_HANDLERS["billing"] = UploadHandler(FORMATS, billing_upload)

        from costs.usage.services.rollup import usage_rollup_ranges
        from jobs.services.changes import DAY_HANDLERS

        if usage_rollup_ranges not in DAY_HANDLERS:
            DAY_HANDLERS.append(usage_rollup_ranges)  # a change to jobs rolls up the days it touched
