"""Budget tasks. Like every task: one call of a service, nothing more."""

from datetime import datetime

from celery import shared_task

from costs.budgets.services.alerts import budgets_check_today
from costs.budgets.services.delivery import budget_alert_deliver
from ops.schedules import default_schedule


@shared_task(name="budgets.deliver_alert", bind=True, max_retries=None)
def deliver_alert(self, alert_id: str, message: str, give_up_at: str) -> str:
    """One try of a budget alert's e-mail or webhook; a failure that may pass is retried with back-off."""
    pause = budget_alert_deliver(
        alert_id=alert_id, message=message, give_up_at=datetime.fromisoformat(give_up_at), attempt=self.request.retries
    )
    if pause is not None:
        raise self.retry(countdown=pause)
    return "done"


@shared_task(name="budgets.check_budgets")
def check_budgets() -> dict[str, int]:
    """`check_budgets` for today: evaluate every active budget and send the alerts that are due."""
    return budgets_check_today()


default_schedule(
    name="Check budgets",
    task="budgets.check_budgets",
    crontab="20 * * * *",
    description="Hourly at :20 UTC: evaluates every active budget and sends the alerts that are due.",
)
