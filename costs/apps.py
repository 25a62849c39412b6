from django.apps import AppConfig


class CostsConfig(AppConfig):
    name = "costs"
    verbose_name = "Costs"

    def ready(self) -> None:
        from costs.services.billing import FORMATS, billing_upload
        from jobs.services.records import UPLOAD_HANDLERS, UploadHandler

        UPLOAD_HANDLERS["billing"] = UploadHandler(FORMATS, billing_upload)
