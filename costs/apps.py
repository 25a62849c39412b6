from django.apps import AppConfig


class CostsConfig(AppConfig):
    """The costs app: its domains register the hooks that tie them to jobs and to each other."""

    name = "costs"
    verbose_name = "Costs"

    def ready(self) -> None:
        from costs.billing.services.bills import BILL_HANDLERS
        from costs.billing.services.focus import FORMATS, billing_upload
        from costs.llm.services.imports import FORMATS as LLM_FORMATS
        from costs.llm.services.imports import llm_calls_upload
        from costs.usage.services.allocation import allocation_refresh
        from costs.usage.services.fanout import rollup_after_change
        from jobs.services.changes import DAY_HANDLERS
        from jobs.services.records import UPLOAD_HANDLERS, UploadHandler

        bills = ("costs.add_costsnapshot", "costs.change_costsnapshot")  # a plain import adds to a stored day
        UPLOAD_HANDLERS["billing"] = UploadHandler(FORMATS, billing_upload, bills, ("costs.delete_costsnapshot",))
        UPLOAD_HANDLERS["llm_calls"] = UploadHandler(
            LLM_FORMATS, llm_calls_upload, ("costs.add_llmcall",), managers=True
        )
        if rollup_after_change not in DAY_HANDLERS:
            DAY_HANDLERS.append(rollup_after_change)  # a change to jobs rolls up the days it touched (workers: queued)
        if allocation_refresh not in BILL_HANDLERS:
            BILL_HANDLERS.append(allocation_refresh)  # a change to the bill re-allocates its days
