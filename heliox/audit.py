"""The audit trail's author for changes made outside a request: the command that made them.

django-simple-history records the request's user (HistoryRequestMiddleware) for changes from
the admin, the API and the member UI. A management command has no request: HelioxCommand
names itself here while it runs, and every history row written meanwhile carries
"command: <name>" as its change reason. Bulk imports write no history row at all (bulk_create
and COPY send no signal): they are audited by their import record.
"""

from contextvars import ContextVar

running_command: ContextVar[str | None] = ContextVar("heliox_running_command", default=None)


def history_reason() -> str:
    """ "command: <name>" while a Heliox command runs; '' otherwise (a request's change names its user)."""
    command = running_command.get()
    return f"command: {command}" if command else ""


def name_the_command(sender, history_instance, **kwargs) -> None:
    """pre_create_historical_record: the running command's name, unless the change already has a reason."""
    if not history_instance.history_change_reason:
        history_instance.history_change_reason = history_reason() or None
