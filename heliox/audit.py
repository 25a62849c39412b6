"""The audit trail's author for changes made outside a request: the command that made them.

django-simple-history records the request's user (HistoryRequestMiddleware) for changes from
the admin, the API and the member UI. A management command has no request: HelioxCommand
names itself here while it runs, and every history row written meanwhile carries
"command: <name>" as its change reason. Bulk imports write no history row at all (bulk_create
and COPY send no signal): they are audited by their import record.
"""

from collections.abc import Iterable
from contextvars import ContextVar

from django.db import models
from simple_history.models import HistoricalRecords

running_command: ContextVar[str | None] = ContextVar("heliox_running_command", default=None)


def history_reason() -> str:
    """ "command: <name>" while a Heliox command runs; '' otherwise (a request's change names its user)."""
    command = running_command.get()
    return f"command: {command}" if command else ""


def name_the_command(sender, history_instance, **kwargs) -> None:
    """pre_create_historical_record: the running command's name, unless the change already has a reason."""
    if not history_instance.history_change_reason:
        history_instance.history_change_reason = history_reason() or None


class BulkTableHistory(HistoricalRecords):
    """History of a table that bulk work deletes from (jobs, the bill): saves are recorded as usual; a deletion
    only where record_deletions() is called (the API's and the admin's deletes).

    A delete signal would make Django fetch and signal every row of a bulk delete (a team's million
    jobs, `import_billing --replace`, `seed_demo --reset`) and write a history row for each, instead
    of one DELETE: the audit trail's price would be the imports' speed.
    """

    def finalize(self, sender, **kwargs) -> None:
        super().finalize(sender, **kwargs)
        if getattr(sender._meta, "simple_history_manager_attribute", None) == self.manager_name:
            models.signals.post_delete.disconnect(self.post_delete, sender=sender)
            models.signals.pre_delete.disconnect(self.pre_delete, sender=sender)
            sender._meta.bulk_table_history = self


def record_deletions(instances: Iterable[models.Model]) -> None:
    """Write the "-" history row of each instance about to be deleted by a person (API, admin)."""
    for instance in instances:
        history = getattr(instance._meta, "bulk_table_history", None)
        if history is not None:
            history.create_historical_record(instance, "-")
